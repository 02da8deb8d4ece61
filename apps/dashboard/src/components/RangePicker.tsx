import { RANGE_PRESETS } from '../lib/format.js';

/** Presets and a custom from/to; values are the URL's `range`, `from`, `to`. */
export function RangePicker({
  range,
  from,
  to,
  onChange,
  idPrefix,
}: {
  range?: string;
  from?: string;
  to?: string;
  idPrefix: string;
  onChange: (v: { range?: string; from?: string; to?: string }) => void;
}) {
  const custom = !range && (from || to);
  const mode = range ?? (custom ? 'custom' : '');
  return (
    <>
      <label htmlFor={`${idPrefix}-range`}>
        Time range
        <select
          id={`${idPrefix}-range`}
          value={mode}
          onChange={(e) => {
            const v = e.target.value;
            if (v === 'custom') onChange({ range: undefined, from: from ?? toLocalInput(Date.now() - 86_400_000), to });
            else onChange({ range: v || undefined, from: undefined, to: undefined });
          }}
        >
          <option value="">Any time</option>
          {RANGE_PRESETS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
          <option value="custom">Custom…</option>
        </select>
      </label>
      {mode === 'custom' ? (
        <>
          <label htmlFor={`${idPrefix}-from`}>
            From
            <input
              id={`${idPrefix}-from`}
              type="datetime-local"
              value={from ?? ''}
              onChange={(e) => onChange({ range: undefined, from: e.target.value || undefined, to })}
            />
          </label>
          <label htmlFor={`${idPrefix}-to`}>
            To
            <input
              id={`${idPrefix}-to`}
              type="datetime-local"
              value={to ?? ''}
              onChange={(e) => onChange({ range: undefined, from, to: e.target.value || undefined })}
            />
          </label>
        </>
      ) : null}
    </>
  );
}

function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
