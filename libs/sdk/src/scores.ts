/**
 * Scores the SDK records: on a run, a step or a candidate decision (`run.score`, `step.score`,
 * `step.scoreCandidate`), and from evaluators run when a run ends. They go out through the
 * batching transport as `score-create` events, so recording one never throws or waits.
 */
import { truncate, XrayError, type ErrorInfo } from './errors.js';
import type { EndStatus, EventBodies } from './events.js';
import type { CreateScoreDto } from './generated/types.gen.js';
import { isPlainObject, type Core } from './handle-core.js';
import { uuidv7 } from './uuid.js';

/** A score's value: a number, a boolean or a label (1–200 characters). */
export type ScoreValue = CreateScoreDto['value'];
/** Who scored. */
export type ScoreSource = NonNullable<CreateScoreDto['source']>;
export const SCORE_SOURCES = ['human', 'evaluator', 'api', 'sdk'] as const satisfies readonly ScoreSource[];

export interface ScoreOptions {
  /** Free text, e.g. why the decision was wrong (at most 4,000 characters). */
  comment?: string;
  /** Default `sdk` (an evaluator's scores: `evaluator`). */
  source?: ScoreSource;
  /** Who scored: a user name, an evaluator's name. */
  author?: string;
  metadata?: Record<string, unknown>;
  /** Your own UUID for the score (default: a new UUIDv7); a repeat with the same id is stored once. */
  id?: string;
}

/** What a score judges. */
export interface ScoreTarget {
  runId?: string;
  stepId?: string;
  key?: string;
}

export const isScoreValue = (v: unknown): v is ScoreValue =>
  (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || (typeof v === 'string' && v.length > 0 && v.length <= 200);

/**
 * The `score-create` body for a score, or undefined (reported as a usage error) when the server
 * would refuse it anyway: a score without a name or with a value that is not one of the three kinds.
 */
export function scoreBody(
  core: Pick<Core, 'report'>,
  what: string,
  target: ScoreTarget,
  name: unknown,
  value: unknown,
  opts: ScoreOptions | undefined,
  defaultSource: ScoreSource,
): EventBodies['score-create'] | undefined {
  if (typeof name !== 'string' || name === '') {
    core.report(new XrayError('usage', `${what}: a score needs a name; not recorded`));
    return undefined;
  }
  if (!isScoreValue(value)) {
    core.report(
      new XrayError('usage', `${what}: score "${truncate(name, 200)}" needs a finite number, a boolean or a label of 1–200 characters; not recorded`),
    );
    return undefined;
  }
  const o = isPlainObject(opts) ? (opts as ScoreOptions) : {};
  const source: ScoreSource = (SCORE_SOURCES as readonly unknown[]).includes(o.source) ? (o.source as ScoreSource) : defaultSource;
  return {
    id: typeof o.id === 'string' && o.id ? o.id : uuidv7(),
    ...(target.stepId ? { stepId: target.stepId } : { runId: target.runId }),
    ...(target.key !== undefined ? { key: target.key } : {}),
    name: truncate(name, 200),
    value,
    source,
    ...(typeof o.comment === 'string' ? { comment: truncate(o.comment, 4000) } : {}),
    ...(typeof o.author === 'string' && o.author ? { author: truncate(o.author, 200) } : {}),
    ...(isPlainObject(o.metadata) ? { metadata: o.metadata } : {}),
  };
}

/** Records a score through the transport; never throws. */
export function recordScore(core: Core, what: string, target: ScoreTarget, name: unknown, value: unknown, opts: ScoreOptions | undefined): void {
  try {
    const body = scoreBody(core, what, target, name, value, opts, 'sdk');
    if (body) core.emit('score-create', body);
  } catch (err) {
    core.report(new XrayError('internal', `${what} failed inside the SDK: ${(err as Error)?.message ?? err}`, { cause: err }));
  }
}

/** What an evaluator is told about the run that ended. */
export interface EvaluatorContext {
  runId: string;
  pipeline: string;
  /** How the run ended: evaluators run on `complete` and on `fail`. */
  status: EndStatus;
  /** The run's input and output as the pipeline passed them (before `mask`). */
  input?: unknown;
  output?: unknown;
  /** The error, when the run failed. */
  error?: ErrorInfo;
}

/** One score an evaluator gives; it judges the run unless it names a step (and a candidate key). */
export interface EvaluatorResult {
  name: string;
  value: ScoreValue;
  comment?: string;
  metadata?: Record<string, unknown>;
  stepId?: string;
  key?: string;
}

export type EvaluatorOutput = EvaluatorResult | readonly EvaluatorResult[] | null | undefined | void;
export type EvaluatorFn = (ctx: EvaluatorContext) => EvaluatorOutput | Promise<EvaluatorOutput>;

/**
 * A function run when its run ends (`complete` or `fail`), whose results are recorded as
 * `evaluator` scores with the evaluator's name as author. A bare function is named after itself.
 */
export type Evaluator = EvaluatorFn | { name: string; evaluate: EvaluatorFn; /** Default: the client's `evaluatorTimeoutMs`. */ timeoutMs?: number };

const evaluatorName = (e: Evaluator): string => (typeof e === 'function' ? e.name || 'evaluator' : String(e?.name || 'evaluator'));

/**
 * Runs every evaluator of a run that ended, each bounded by its timeout, and records what they
 * return. Resolves when all have answered or timed out; never rejects. A throwing, late or
 * malformed evaluator is reported (`kind: 'evaluator'`) and records nothing.
 */
export async function runEvaluators(core: Core, evaluators: readonly Evaluator[], ctx: EvaluatorContext): Promise<void> {
  await Promise.all(evaluators.map((e) => runEvaluator(core, e, ctx)));
}

async function runEvaluator(core: Core, evaluator: Evaluator, ctx: EvaluatorContext): Promise<void> {
  const name = truncate(evaluatorName(evaluator), 200);
  const fn = typeof evaluator === 'function' ? evaluator : evaluator?.evaluate;
  const report = (message: string, cause?: unknown) =>
    core.report(new XrayError('evaluator', `evaluator "${name}" on run ${ctx.runId}: ${message}`, cause === undefined ? {} : { cause }));
  if (typeof fn !== 'function') return report('not a function (pass a function or { name, evaluate })');
  const own = typeof evaluator === 'object' ? evaluator.timeoutMs : undefined;
  const timeoutMs = typeof own === 'number' && Number.isFinite(own) && own >= 0 ? own : core.evaluatorTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let out: EvaluatorOutput;
  try {
    const late = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
      (timer as { unref?: () => void }).unref?.();
    });
    const answer = await Promise.race([Promise.resolve().then(() => fn(ctx)), late]);
    if (answer === TIMED_OUT) return report(`no answer within ${timeoutMs} ms; nothing recorded`);
    out = answer;
  } catch (err) {
    return report(`threw ${(err as Error)?.message ?? String(err)}; nothing recorded`, err);
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (out === undefined || out === null) return;
  const results: readonly unknown[] = Array.isArray(out) ? out : [out];
  const problems: XrayError[] = [];
  const local: Pick<Core, 'report'> = { report: (e) => problems.push(e) };
  for (const r of results) {
    if (!isPlainObject(r)) {
      report('returned something that is not a { name, value } result; skipped');
      continue;
    }
    const res = r as unknown as EvaluatorResult;
    const target: ScoreTarget =
      typeof res.stepId === 'string' && res.stepId ? { stepId: res.stepId, ...(typeof res.key === 'string' ? { key: res.key } : {}) } : { runId: ctx.runId };
    const body = scoreBody(
      local,
      'a result',
      target,
      res.name,
      res.value,
      { comment: res.comment, metadata: res.metadata, author: name, source: 'evaluator' },
      'evaluator',
    );
    if (body) core.emit('score-create', body);
  }
  for (const p of problems) report(p.message);
}

const TIMED_OUT = Symbol('timed out');
