import { toErrorInfo, truncate, XrayError } from './errors.js';
import type { EndStatus } from './events.js';
import { guard, metadataOf, now, tagsOf, type Core } from './handle-core.js';
import { recordScore, runEvaluators, type Evaluator, type EvaluatorContext, type ScoreOptions, type ScoreValue } from './scores.js';
import { runInStep, Step, type StepOptions } from './step.js';
import { uuidv7 } from './uuid.js';

export interface StartRunOptions {
  /** Pipeline name, e.g. `competitor-selection`. */
  pipeline: string;
  pipelineVersion?: string;
  input?: unknown;
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** Your own UUID for the run (default: a new UUIDv7). */
  id?: string;
  /**
   * Run when the run ends (`complete` or `fail`), in the background: what each returns is
   * recorded as `evaluator` scores on the run. One that throws or takes longer than
   * `evaluatorTimeoutMs` is reported to `onError` and records nothing; `flush` and `shutdown`
   * wait for them.
   */
  evaluators?: readonly Evaluator[];
}

export interface RunCompleteOptions {
  output?: unknown;
  /** Default `success`. */
  status?: EndStatus;
  /** Merged into the run's metadata. */
  metadata?: Record<string, unknown>;
  /** Replace the run's tags. */
  tags?: string[];
}

export interface RunFailOptions {
  output?: unknown;
  metadata?: Record<string, unknown>;
}

/** One execution of a pipeline. Every method returns at once; nothing here throws. */
export class Run {
  readonly id: string;
  readonly pipeline: string;
  private endedFlag = false;
  private readonly input: unknown;
  private readonly evaluators: readonly Evaluator[];
  private evaluated = false;

  /** @internal use `xray.startRun`. */
  constructor(
    private readonly core: Core,
    opts: StartRunOptions,
  ) {
    this.id = typeof opts?.id === 'string' && opts.id ? opts.id : uuidv7();
    this.pipeline = String(opts?.pipeline ?? '');
    this.evaluators = Array.isArray(opts?.evaluators) ? [...(opts.evaluators as Evaluator[])] : [];
    // Kept for the evaluators only: a run without them holds no reference to its input.
    this.input = this.evaluators.length ? opts?.input : undefined;
    guard(
      core,
      'startRun()',
      () => {
        if (!this.pipeline) core.report(new XrayError('usage', 'startRun() needs a pipeline name'));
        core.emit('run-create', {
          id: this.id,
          pipeline: truncate(this.pipeline || 'unnamed', 200),
          ...(opts.pipelineVersion ? { pipelineVersion: truncate(String(opts.pipelineVersion), 200) } : {}),
          ...(opts.input !== undefined ? { input: core.mask(opts.input, { field: 'input', runId: this.id }) } : {}),
          ...metadataOf(opts.metadata),
          ...tagsOf(opts.tags),
          startedAt: now(),
        });
      },
      undefined,
    );
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /** Runs `fn` as a top-level step; returns what it returns, rethrows what it throws. */
  step<T>(name: string, fn: (step: Step) => T | Promise<T>, opts?: StepOptions): Promise<T> {
    return runInStep(this.startStep(name, opts), fn);
  }

  /** Starts a top-level step you end yourself with `complete` or `fail`. */
  startStep(name: string, opts?: StepOptions): Step {
    return new Step(this.core, this.id, name, opts);
  }

  /** Scores the run (default source `sdk`); sent in the background, never throws. */
  score(name: string, value: ScoreValue, opts?: ScoreOptions): void {
    recordScore(this.core, 'run.score()', { runId: this.id }, name, value, opts);
  }

  /** Ends the run (default status `success`). Resolves at once: sending happens in the background. */
  async complete(opts: RunCompleteOptions = {}): Promise<void> {
    guard(
      this.core,
      'run.complete()',
      () => {
        if (this.endedFlag) return;
        this.endedFlag = true;
        const status: EndStatus = opts.status === 'error' || opts.status === 'cancelled' ? opts.status : 'success';
        this.core.emit('run-update', {
          id: this.id,
          status,
          endedAt: now(),
          ...(opts.output !== undefined ? { output: this.core.mask(opts.output, { field: 'output', runId: this.id }) } : {}),
          ...metadataOf(opts.metadata),
          ...tagsOf(opts.tags),
        });
        this.evaluate({ status, output: opts.output });
      },
      undefined,
    );
  }

  /** Ends the run as failed, recording `err`. Resolves at once. */
  async fail(err: unknown, opts: RunFailOptions = {}): Promise<void> {
    guard(
      this.core,
      'run.fail()',
      () => {
        this.endedFlag = true;
        const error = toErrorInfo(err);
        this.core.emit('run-update', {
          id: this.id,
          status: 'error',
          error,
          endedAt: now(),
          ...(opts.output !== undefined ? { output: this.core.mask(opts.output, { field: 'output', runId: this.id }) } : {}),
          ...metadataOf(opts.metadata),
        });
        this.evaluate({ status: 'error', output: opts.output, error });
      },
      undefined,
    );
  }

  /** Starts the evaluators once, on the first ending, in the background. */
  private evaluate(end: Pick<EvaluatorContext, 'status' | 'output' | 'error'>): void {
    if (this.evaluated || this.evaluators.length === 0) return;
    this.evaluated = true;
    const ctx: EvaluatorContext = { runId: this.id, pipeline: this.pipeline, input: this.input, ...end };
    this.core.track(runEvaluators(this.core, this.evaluators, ctx));
  }
}
