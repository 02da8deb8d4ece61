import { CandidateTally, selectCandidates, type CandidateInput, type CandidatesOptions, type CaptureMode } from './candidates.js';
import { toErrorInfo, truncate, XrayError } from './errors.js';
import type { EndStatus, LlmFields, StepCounts, StepType, WireCandidate } from './events.js';
import { guard, isPlainObject, metadataOf, now, stepType, type Core } from './handle-core.js';
import { recordScore, type ScoreOptions, type ScoreValue } from './scores.js';
import { uuidv7 } from './uuid.js';

/**
 * Options of a new step. The LLM fields (`model`, `provider`, `modelParameters`, `usage`,
 * `costUsd`, `timeToFirstTokenMs`) make it a model call: `{ type: 'llm', model: 'gpt-4o-mini' }`.
 * Without `costUsd`, the server prices the usage with the project's model prices.
 */
export interface StepOptions extends LlmFields {
  /** Kind of step (default `custom`). */
  type?: StepType;
  input?: unknown;
  metadata?: Record<string, unknown>;
  /** Your own UUID for the step (default: a new UUIDv7). */
  id?: string;
}

export interface StepCompleteOptions {
  output?: unknown;
  /** Why the step decided what it did. */
  reasoning?: string;
  /** Merged into the step's metadata. */
  metadata?: Record<string, unknown>;
  /** Default `success`. */
  status?: EndStatus;
}

export interface StepFailOptions {
  output?: unknown;
  metadata?: Record<string, unknown>;
}

export interface CandidatesResult {
  capture: CaptureMode;
  total: number;
  out: number;
  stored: number;
}

const MAX_REASONING = 100_000;
const MAX_TOKENS = 2_000_000_000;
const USAGE_KEYS = ['input', 'output', 'total', 'cacheRead', 'cacheWrite', 'reasoning'] as const;

/**
 * The LLM fields the server will take: strings cut to their limits, counts that are whole and
 * not negative, finite non-negative numbers; anything else is left out (and reported), so one
 * bad value never makes the server refuse the whole step.
 */
export function cleanLlmFields(core: Core, stepName: string, f: LlmFields | undefined): LlmFields {
  if (!f || typeof f !== 'object') return {};
  const out: LlmFields = {};
  const skipped: string[] = [];
  const text = (v: unknown, max: number) => (typeof v === 'string' && v.trim() !== '' ? truncate(v, max) : undefined);
  const amount = (v: unknown, max: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max ? v : undefined);
  const put = <K extends keyof LlmFields>(key: K, value: LlmFields[K] | undefined) => {
    if (f[key] === undefined) return;
    if (value === undefined) skipped.push(key);
    else out[key] = value;
  };
  put('model', text(f.model, 200));
  put('provider', text(f.provider, 100));
  put('modelParameters', isPlainObject(f.modelParameters) ? f.modelParameters : undefined);
  put('costUsd', amount(f.costUsd, 1_000_000));
  put('timeToFirstTokenMs', amount(f.timeToFirstTokenMs, 86_400_000));
  if (f.usage !== undefined) {
    const usage: NonNullable<LlmFields['usage']> = {};
    if (isPlainObject(f.usage)) {
      for (const k of USAGE_KEYS) {
        const v = (f.usage as Record<string, unknown>)[k];
        if (v === undefined || v === null) continue;
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS) usage[k] = v;
        else skipped.push(`usage.${k}`);
      }
    } else skipped.push('usage');
    if (Object.keys(usage).length) out.usage = usage;
  }
  if (skipped.length) core.report(new XrayError('usage', `step "${stepName}": LLM field(s) ${skipped.join(', ')} left out (not a valid value)`));
  return out;
}

/** Times `fn` as a step: success when it returns, the error recorded when it throws (then rethrown as is). */
export async function runInStep<T>(step: Step, fn: (step: Step) => T | Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn(step);
  } catch (err) {
    step.fail(err);
    throw err;
  }
  if (!step.ended) step.complete();
  return result;
}

/** One unit of work in a run. Every method returns at once; nothing here throws. */
export class Step {
  readonly id: string;
  private ending: 'open' | 'ended' = 'open';
  private tally?: CandidateTally;
  private recording = false;

  /** @internal use `run.step`, `run.startStep`, `step.step` or `step.startStep`. */
  constructor(
    private readonly core: Core,
    readonly runId: string,
    readonly name: string,
    opts: StepOptions = {},
    readonly parentStepId?: string,
  ) {
    this.id = typeof opts.id === 'string' && opts.id ? opts.id : uuidv7();
    guard(
      core,
      'step()',
      () => {
        core.emit('step-create', {
          runId,
          id: this.id,
          name: truncate(String(name ?? '') || 'unnamed', 200),
          ...(parentStepId ? { parentStepId } : {}),
          ...(opts.type ? { type: stepType(core, opts.type) } : {}),
          ...(opts.input !== undefined ? { input: core.mask(opts.input, { field: 'input', runId, stepId: this.id }) } : {}),
          ...cleanLlmFields(core, name, opts),
          ...metadataOf(opts.metadata),
          startedAt: now(),
        });
      },
      undefined,
    );
  }

  /**
   * Records what this step's model call was: model, provider, parameters, token usage, cost
   * (USD), time to first token. Sent at once (a later call replaces what it sends; `usage`
   * as a whole). Without `costUsd` the server computes the cost from the project's model prices.
   */
  llm(fields: LlmFields): void {
    guard(
      this.core,
      'llm()',
      () => {
        const clean = cleanLlmFields(this.core, this.name, fields);
        if (Object.keys(clean).length) this.core.emit('step-update', { id: this.id, ...clean });
      },
      undefined,
    );
  }

  /** True once the step has been completed or failed. */
  get ended(): boolean {
    return this.ending === 'ended';
  }

  /** Runs `fn` as a child step; returns what it returns, rethrows what it throws. */
  step<T>(name: string, fn: (step: Step) => T | Promise<T>, opts?: StepOptions): Promise<T> {
    return runInStep(this.startStep(name, opts), fn);
  }

  /** Starts a child step you end yourself with `complete` or `fail`. */
  startStep(name: string, opts?: StepOptions): Step {
    return new Step(this.core, this.runId, name, opts, this.id);
  }

  /** Scores the step (default source `sdk`); sent in the background, never throws. */
  score(name: string, value: ScoreValue, opts?: ScoreOptions): void {
    recordScore(this.core, 'step.score()', { stepId: this.id }, name, value, opts);
  }

  /**
   * Scores one candidate decision of this step, by its key. The candidate must be stored (with
   * `capture: 'sample'` or `'none'` it may not be): a score on a key the server does not have is
   * refused and reported to `onError`.
   */
  scoreCandidate(key: string, name: string, value: ScoreValue, opts?: ScoreOptions): void {
    if ((typeof key !== 'string' && typeof key !== 'number') || String(key) === '') {
      this.core.report(new XrayError('usage', `step "${this.name}": scoreCandidate() needs the candidate's key; not recorded`));
      return;
    }
    recordScore(this.core, 'step.scoreCandidate()', { stepId: this.id, key: String(key) }, name, value, opts);
  }

  /**
   * Records the candidates this step weighed. Totals and the reason histogram always cover
   * the whole list; `capture` decides how many are stored. Can be called several times.
   */
  candidates(list: readonly CandidateInput[], opts: CandidatesOptions = {}): CandidatesResult {
    const empty: CandidatesResult = { capture: opts.capture ?? 'all', total: 0, out: 0, stored: 0 };
    return guard(this.core, 'candidates()', () => this.recordCandidates(list, opts), empty);
  }

  private recordCandidates(list: readonly CandidateInput[], opts: CandidatesOptions): CandidatesResult {
    this.recording = true;
    try {
      return this.recordCandidatesNow(list, opts);
    } finally {
      this.recording = false;
    }
  }

  private recordCandidatesNow(list: readonly CandidateInput[], opts: CandidatesOptions): CandidatesResult {
    const core = this.core;
    if (!Array.isArray(list)) {
      core.report(new XrayError('usage', `step "${this.name}": candidates() takes an array`));
      return { capture: opts.capture ?? 'all', total: 0, out: 0, stored: 0 };
    }
    const capture: CaptureMode = opts.capture === 'sample' || opts.capture === 'none' ? opts.capture : 'all';
    const perReason = Math.max(0, Math.floor(opts.samplePerReason ?? core.samplePerReason));
    const sel = selectCandidates(list, capture, perReason, core.captureAllLimit);
    if (sel.invalid.length) {
      core.report(
        new XrayError('usage', `step "${this.name}": ${sel.invalid.length} candidate(s) without a key or with an unknown decision were skipped`, {
          count: sel.invalid.length,
        }),
      );
    }
    const indexes: Iterable<number> = sel.keep === 'none' ? [] : sel.keep === 'all' ? list.keys() : sel.keep;
    let chunk: WireCandidate[] = [];
    let stored = 0;
    const flushChunk = () => {
      if (chunk.length === 0) return;
      core.emit('candidates-create', { stepId: this.id, candidates: chunk }, { onDropped: this.candidatesDropped });
      stored += chunk.length;
      chunk = [];
    };
    for (const i of indexes) {
      chunk.push(this.toWire(list[i]));
      if (chunk.length >= core.candidatesPerEvent) flushChunk();
    }
    flushChunk();
    (this.tally ??= new CandidateTally()).add(sel, stored, perReason);
    // Counts recorded after the step ended would otherwise never reach the server.
    if (this.ended) core.emit('step-update', { id: this.id, ...this.countsAndSummary(undefined) });
    return { capture: sel.capture, total: sel.total, out: sel.out, stored };
  }

  /**
   * The buffer dropped `n` of this step's stored-to-be candidates (it drops candidate detail
   * before structure). The step's summary says so (`metadata.xray.candidatesDropped`): an open
   * step's ending update will carry it, an ended step sends a step-update now (replacing one
   * still queued), so the server and the dashboard know its candidate list was cut. That note
   * is itself dropped before any run or step event if the buffer stays full.
   */
  private readonly candidatesDropped = (n: number): void => {
    (this.tally ??= new CandidateTally()).dropped += n;
    // While recording, the update at the end of candidates() (or the ending one) carries it.
    if (!this.ended || this.recording) return;
    this.core.emit('step-update', { id: this.id, ...this.countsAndSummary(undefined) }, { replaces: `candidates-dropped:${this.id}`, note: true });
  };

  private toWire(c: CandidateInput): WireCandidate {
    const key = String(c.key);
    const out: WireCandidate = { key, decision: c.decision };
    if (typeof c.score === 'number' && Number.isFinite(c.score)) out.score = c.score;
    if (typeof c.rank === 'number' && Number.isInteger(c.rank)) out.rank = c.rank;
    if (typeof c.reason === 'string') out.reason = truncate(c.reason, 2000);
    if (Array.isArray(c.evaluations)) {
      // One malformed evaluation would make the server refuse the whole batch: keep the sound ones.
      const evals: NonNullable<WireCandidate['evaluations']> = [];
      for (const e of c.evaluations) {
        if (!e || typeof e.check !== 'string' || e.check === '' || typeof e.passed !== 'boolean') continue;
        evals.push(
          typeof e.detail === 'string'
            ? { check: truncate(e.check, 200), passed: e.passed, detail: truncate(e.detail, 2000) }
            : { check: truncate(e.check, 200), passed: e.passed },
        );
        if (evals.length === 100) break;
      }
      out.evaluations = evals;
    }
    if (c.data !== undefined) out.data = this.core.mask(c.data, { field: 'data', runId: this.runId, stepId: this.id, key });
    return out;
  }

  private countsAndSummary(metadata: Record<string, unknown> | undefined): StepCounts {
    const own = isPlainObject(metadata) ? metadata : undefined;
    if (!this.tally) return own ? { metadata: own } : {};
    return {
      candidatesIn: this.tally.total,
      candidatesOut: this.tally.out,
      metadata: { ...(own ?? {}), xray: this.tally.toStats(this.core.maxReasons) },
    };
  }

  /** Ends the step (default status `success`) with its output and reasoning. Later calls are ignored. */
  complete(opts: StepCompleteOptions = {}): void {
    guard(
      this.core,
      'complete()',
      () => {
        if (this.ended) return;
        this.ending = 'ended';
        const status: EndStatus = opts.status === 'error' || opts.status === 'cancelled' ? opts.status : 'success';
        this.core.emit('step-update', {
          id: this.id,
          status,
          endedAt: now(),
          ...(opts.output !== undefined ? { output: this.core.mask(opts.output, { field: 'output', runId: this.runId, stepId: this.id }) } : {}),
          ...(typeof opts.reasoning === 'string' ? { reasoning: truncate(opts.reasoning, MAX_REASONING) } : {}),
          ...this.countsAndSummary(opts.metadata),
        });
      },
      undefined,
    );
  }

  /** Ends the step as failed, recording `err` (an Error or anything thrown). */
  fail(err: unknown, opts: StepFailOptions = {}): void {
    guard(
      this.core,
      'fail()',
      () => {
        // A failure after complete() still wins: the step did not end well after all.
        this.ending = 'ended';
        this.core.emit('step-update', {
          id: this.id,
          status: 'error',
          error: toErrorInfo(err),
          endedAt: now(),
          ...(opts.output !== undefined ? { output: this.core.mask(opts.output, { field: 'output', runId: this.runId, stepId: this.id }) } : {}),
          ...this.countsAndSummary(opts.metadata),
        });
      },
      undefined,
    );
  }
}
