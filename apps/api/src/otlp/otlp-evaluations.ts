import type { Attributes, OtlpSpan, OtlpValue } from './otlp-decode.js';

/**
 * Scores from evaluation results carried by a span (pure, no database):
 * - GenAI semantic conventions: events named `gen_ai.evaluation.result`, and the same keys as
 *   span attributes: `gen_ai.evaluation.name`, `gen_ai.evaluation.score.value` (a number),
 *   `gen_ai.evaluation.score.label` (a label), `gen_ai.evaluation.explanation`;
 * - OpenInference: `evaluations.N.evaluation.{name,score,label,explanation}` (flattened, zero-based).
 * Each becomes a score on the span's step with source `evaluator`: its value is the number when
 * there is one (the label then goes to metadata), else the label; the explanation is its comment.
 * An `xray.candidate.key` beside an evaluation (on its event, or as `evaluations.N.evaluation.key`)
 * makes it a score of that candidate. An evaluation without a name, or with neither a number nor a
 * label, is not a score. The first evaluation of a name (and candidate) on a span is taken.
 */

export interface SpanEvaluation {
  name: string;
  value: number | string;
  label?: string;
  explanation?: string;
  key?: string;
  /** Where it was read from. */
  from: 'gen_ai.evaluation.result' | 'gen_ai.evaluation' | 'evaluations';
}

const MAX_NAME = 200;
const MAX_LABEL = 200;
const MAX_COMMENT = 4000;
const MAX_KEY = 500;
export const EVALUATION_EVENT = 'gen_ai.evaluation.result';
const GENAI_KEYS = ['gen_ai.evaluation.name', 'gen_ai.evaluation.score.value', 'gen_ai.evaluation.score.label', 'gen_ai.evaluation.explanation'];
const OPENINFERENCE = /^evaluations\.(\d{1,6})\.evaluation\.(name|score|label|explanation|key)$/;

/** Whether a span attribute is an evaluation's (mapped to a score, not kept in metadata). */
export const isEvaluationAttribute = (key: string): boolean => GENAI_KEYS.includes(key) || OPENINFERENCE.test(key);

const clip = (s: string, max: number) => (s.length > max ? s.slice(0, max) : s);
const str = (v: OtlpValue | undefined, max: number): string | undefined => (typeof v === 'string' && v.trim() !== '' ? clip(v.trim(), max) : undefined);
const number = (v: OtlpValue | undefined): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  // Some exporters send doubles as strings.
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};

function evaluation(
  from: SpanEvaluation['from'],
  fields: { name?: OtlpValue; score?: OtlpValue; label?: OtlpValue; explanation?: OtlpValue; key?: OtlpValue },
): SpanEvaluation | undefined {
  const name = str(fields.name, MAX_NAME);
  const score = number(fields.score);
  const label = str(fields.label, MAX_LABEL);
  if (!name || (score === undefined && label === undefined)) return undefined;
  const explanation = str(fields.explanation, MAX_COMMENT);
  const key = typeof fields.key === 'number' ? String(fields.key) : str(fields.key, MAX_KEY);
  return {
    name,
    value: score ?? label!,
    ...(score !== undefined && label !== undefined ? { label } : {}),
    ...(explanation ? { explanation } : {}),
    ...(key ? { key } : {}),
    from,
  };
}

const genAi = (a: Attributes) => ({
  name: a['gen_ai.evaluation.name'],
  score: a['gen_ai.evaluation.score.value'],
  label: a['gen_ai.evaluation.score.label'],
  explanation: a['gen_ai.evaluation.explanation'],
  key: a['xray.candidate.key'],
});

/** Every evaluation a span carries, in order: its events, its GenAI attributes, its OpenInference list. */
export function evaluationsOf(span: Pick<OtlpSpan, 'attributes' | 'events'>): SpanEvaluation[] {
  const found: SpanEvaluation[] = [];
  for (const e of span.events)
    if (e.name === EVALUATION_EVENT) found.push(...[evaluation('gen_ai.evaluation.result', genAi(e.attributes))].filter((x) => x !== undefined));
  const own = evaluation('gen_ai.evaluation', genAi(span.attributes));
  if (own) found.push(own);
  const byIndex = new Map<number, Record<string, OtlpValue>>();
  for (const [k, v] of Object.entries(span.attributes)) {
    const m = OPENINFERENCE.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    const fields = byIndex.get(i) ?? {};
    fields[m[2]] = v;
    byIndex.set(i, fields);
  }
  for (const i of [...byIndex.keys()].sort((a, b) => a - b)) {
    const e = evaluation('evaluations', byIndex.get(i)!);
    if (e) found.push(e);
  }
  const seen = new Set<string>();
  return found.filter((e) => {
    const id = `${e.key ?? ''}\u0000${e.name}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * The `score-create` bodies for a span's evaluations on its step. `scoreId` derives each score's
 * id from the span and the evaluation's name (and candidate key), so a re-export is a replay.
 */
export function evaluationScores(
  span: Pick<OtlpSpan, 'attributes' | 'events' | 'spanId'>,
  stepId: string,
  scoreId: (name: string, key: string | undefined) => string,
): Record<string, unknown>[] {
  return evaluationsOf(span).map((e) => ({
    id: scoreId(e.name, e.key),
    stepId,
    ...(e.key !== undefined ? { key: e.key } : {}),
    name: e.name,
    value: e.value,
    source: 'evaluator',
    ...(e.explanation ? { comment: e.explanation } : {}),
    metadata: { otel: { spanId: span.spanId, from: e.from }, ...(e.label !== undefined ? { label: e.label } : {}) },
  }));
}
