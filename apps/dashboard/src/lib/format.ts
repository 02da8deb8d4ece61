export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (m < 60) return `${m} m ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtPct(x: number | null | undefined, digits = 0): string {
  return x == null ? '—' : `${(x * 100).toFixed(digits)}%`;
}

export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** Relative time-range presets for filters; `from` is computed when the query runs. */
export const RANGE_PRESETS: { id: string; label: string; ms: number }[] = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
];

/** `range` (a preset id) or explicit `from`/`to` (ISO or datetime-local) → API bounds. */
export function rangeBounds(range: string | undefined, from: string | undefined, to: string | undefined, now = Date.now()): { from?: string; to?: string } {
  const preset = RANGE_PRESETS.find((p) => p.id === range);
  if (preset) return { from: new Date(now - preset.ms).toISOString() };
  const iso = (v: string | undefined) => {
    if (!v) return undefined;
    const t = Date.parse(v);
    return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
  };
  return { from: iso(from), to: iso(to) };
}

/** `key=value` lines (or comma-separated) → a metadata filter object; malformed parts are ignored. */
export function parseMetadataFilter(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const out: Record<string, string> = {};
  for (const part of text.split(/[,\n]/)) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** A token count: `1,234`, `12.3k`, `4.56M`; `—` for none. */
export function fmtTokens(n: number | null | undefined): string {
  if (n == null) return '—';
  if (n < 10_000) return n.toLocaleString('en-US');
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 2 : 1)}M`;
}

/** A cost in USD: cents-level for dollars, more digits for the fractions of a cent LLM calls cost. */
export function fmtUsd(x: number | null | undefined): string {
  if (x == null) return '—';
  if (x === 0) return '$0';
  if (x >= 1) return `$${x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (x >= 0.01) return `$${x.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')}`;
  return `$${x.toPrecision(2)}`;
}

/** A step's token usage in one line: `1,200 in · 340 out (1,024 cached)`. */
export function fmtUsage(u: { input: number | null; output: number | null; total: number | null; cacheRead: number | null } | null | undefined): string {
  if (!u) return '—';
  const parts = [u.input != null ? `${fmtTokens(u.input)} in` : null, u.output != null ? `${fmtTokens(u.output)} out` : null].filter(Boolean);
  const line = parts.length ? parts.join(' · ') : `${fmtTokens(u.total)} total`;
  return u.cacheRead ? `${line} (${fmtTokens(u.cacheRead)} cached)` : line;
}
