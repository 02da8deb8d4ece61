// Scores as the dashboard shows them: grouping a run's scores by what they judge, formatting
// values, the runs list's score filter, the add-score form's value, and the analytics series.
import type { ScoreDto } from '../api/sdk.js';

export type Score = ScoreDto;
export type ScoreValue = Score['value'];

export interface GroupedScores {
  run: Score[];
  /** A step's own scores, by step id. */
  steps: Map<string, Score[]>;
  /** A candidate's scores, by `candidateKey(stepId, key)`. */
  candidates: Map<string, Score[]>;
}

export const candidateKey = (stepId: string, key: string) => `${stepId}\u0000${key}`;

function push<K>(m: Map<K, Score[]>, k: K, s: Score) {
  const list = m.get(k);
  if (list) list.push(s);
  else m.set(k, [s]);
}

/** A run's scores (its own, its steps', its candidates') sorted by what they judge, oldest first. */
export function groupScores(scores: readonly Score[]): GroupedScores {
  const out: GroupedScores = { run: [], steps: new Map(), candidates: new Map() };
  const ordered = [...scores].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  for (const s of ordered) {
    if (s.stepId && s.key !== null) push(out.candidates, candidateKey(s.stepId, s.key), s);
    else if (s.stepId) push(out.steps, s.stepId, s);
    else out.run.push(s);
  }
  return out;
}

/** A value as text: booleans as yes/no marks, numbers with at most 3 decimals, labels as they are. */
export function fmtScoreValue(v: ScoreValue): string {
  if (typeof v === 'boolean') return v ? '✓ true' : '✗ false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
  return v;
}

/** How a badge is coloured: a boolean says good or bad; numbers and labels are neutral. */
export const scoreTone = (v: ScoreValue): 'good' | 'bad' | 'neutral' => (v === true ? 'good' : v === false ? 'bad' : 'neutral');

/**
 * The runs list's score filter, typed as `name<condition>`: `correct=false`, `faithfulness>=0.8`,
 * `verdict=good`, `latency<2`. Answers the `score` query object (`score[<name>]=<condition>`, the
 * API's grammar: `>x`, `>=x`, `<x`, `<=x`, `=x` for numbers, `true`/`false`, or a label) or a message.
 */
export function parseScoreFilter(text: string): { name: string; condition: string; query: Record<string, string> } | { error: string } {
  const t = text.trim();
  const m = /^([^<>=]+?)\s*(>=|<=|>|<|=)\s*(.+)$/.exec(t);
  if (!m) return { error: 'Write a score filter as name=value, name>=0.5 or name<2 (e.g. correct=false, verdict=good)' };
  const [, name, op, raw] = m;
  const value = raw.trim();
  let condition: string;
  if (op !== '=') {
    if (!Number.isFinite(Number(value)) || value === '') return { error: `${op} compares with a number: ${name}${op}<number>` };
    condition = `${op}${value}`;
  } else if (value === 'true' || value === 'false') condition = value;
  else if (value !== '' && Number.isFinite(Number(value))) condition = `=${value}`;
  // A label the API would read as a comparison or a boolean is written after `label:`.
  else condition = /^[<>=]/.test(value) ? `label:${value}` : value;
  return { name: name.trim(), condition, query: { [name.trim()]: condition } };
}

export type ValueKind = 'boolean' | 'number' | 'label';

/** The add-score form's value, from its kind and text; or a message. */
export function parseScoreInput(kind: ValueKind, text: string): { value: ScoreValue } | { error: string } {
  const t = text.trim();
  if (kind === 'boolean') {
    if (t === 'true' || t === 'false') return { value: t === 'true' };
    return { error: 'Pick true or false' };
  }
  if (kind === 'number') {
    const n = Number(t);
    return t !== '' && Number.isFinite(n) ? { value: n } : { error: 'Enter a number' };
  }
  if (t.length === 0 || t.length > 200) return { error: 'A label is 1–200 characters' };
  return { value: t };
}

/** One score name's series in pipeline analytics, as the chart reads it. */
export interface ScoreSeries {
  name: string;
  dataType: 'numeric' | 'boolean' | 'categorical';
  count: number;
  mean: number | null;
  points: { start: string; count: number; mean: number | null; labels: Record<string, number> }[];
}

type Loose = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const labelsOf = (v: unknown): Record<string, number> => {
  if (Array.isArray(v)) {
    // [{ label, count }]
    const out: Record<string, number> = {};
    for (const e of v as Loose[]) if (e && typeof e.label === 'string' && typeof e.count === 'number') out[e.label] = e.count;
    return out;
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Loose).filter(([, n]) => typeof n === 'number')) as Record<string, number>;
  return {};
};

/**
 * The per-score series of a pipeline analytics answer (`scores`: one entry per name with its
 * `dataType` and `points` per time bucket, each with `count`, `mean` for numbers and the share of
 * `true` for booleans, `labels` counts for labels). Entries it cannot read are left out.
 */
export function scoreSeriesOf(analytics: unknown): ScoreSeries[] {
  const list = (analytics as Loose | null)?.scores;
  if (!Array.isArray(list)) return [];
  const out: ScoreSeries[] = [];
  for (const e of list as Loose[]) {
    if (!e || typeof e.name !== 'string') continue;
    const dataType = e.dataType === 'boolean' || e.dataType === 'categorical' ? e.dataType : 'numeric';
    const raw = Array.isArray(e.points) ? (e.points as Loose[]) : [];
    const points = raw
      .filter((p) => p && typeof p.start === 'string')
      .map((p) => ({ start: p.start as string, count: num(p.count) ?? 0, mean: num(p.mean), labels: labelsOf(p.labels) }));
    const count = num(e.count) ?? points.reduce((n, p) => n + p.count, 0);
    // Without an overall mean, the points' means weighted by their counts.
    const weighed = points.filter((p) => p.mean !== null && p.count > 0);
    const total = weighed.reduce((n, p) => n + p.count, 0);
    const mean = num(e.mean) ?? (dataType !== 'categorical' && total > 0 ? weighed.reduce((n, p) => n + p.mean! * p.count, 0) / total : null);
    out.push({ name: e.name, dataType, count, mean, points });
  }
  return out;
}

/** The labels of a categorical series, most frequent first. */
export function labelsByCount(series: ScoreSeries): { label: string; count: number }[] {
  const totals = new Map<string, number>();
  for (const p of series.points) for (const [l, n] of Object.entries(p.labels)) totals.set(l, (totals.get(l) ?? 0) + n);
  return [...totals].map(([label, count]) => ({ label, count })).sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}

/** Scopes that may create scores. */
export const canScore = (scopes: readonly string[] | undefined): boolean => Boolean(scopes?.some((s) => s === 'ingest' || s === 'feedback' || s === 'admin'));
