import { usePipelines } from '../api/queries.js';

export function PipelinePicker({ id, value, onChange }: { id: string; value?: string; onChange: (v: string | undefined) => void }) {
  const { data } = usePipelines();
  const names = data?.map((p) => p.name) ?? [];
  if (value && !names.includes(value)) names.unshift(value);
  return (
    <label htmlFor={id}>
      Pipeline
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">All pipelines</option>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </label>
  );
}
