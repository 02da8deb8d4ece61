import { XrayError } from './errors.js';
import { createClient, createConfig, type Client } from './generated/client/index.js';
import { client as defaultApiClient } from './generated/client.gen.js';
import { createScore } from './generated/sdk.gen.js';
import type { ScoreDto } from './generated/types.gen.js';
import { isPlainObject } from './handle-core.js';
import { scoreBody, type ScoreOptions, type ScoreTarget, type ScoreValue } from './scores.js';
import { Run, type Core, type MaskContext, type StartRunOptions } from './handles.js';
import type { EventBodies, EventType, JsonValue } from './events.js';
import { Transport, type EventHooks, type TransportStats } from './transport.js';

import { SDK_VERSION } from './version.js';

/** The SDK's version (its package.json version); sent in the `user-agent` of every request. */
export { SDK_VERSION };

export interface XrayClientOptions {
  /** Where the xray API is, e.g. `http://localhost:3000` (default: env `XRAY_BASE_URL`). */
  baseUrl?: string;
  /** A project API key, `xr_…` (default: env `XRAY_API_KEY`). */
  apiKey?: string;
  /** false: record nothing and send nothing (handles still work). Default true. */
  enabled?: boolean;
  /**
   * Redaction: called on every run and step input and output and on every candidate's `data`
   * before it is recorded; what it returns is sent instead. If it throws, a marker is sent.
   */
  mask?: (value: unknown, context: MaskContext) => unknown;
  /** Told about every problem (unreachable server, refused events, drops…). Never required. */
  onError?: (error: XrayError) => void;
  /** Log what the SDK does: true for console.debug, or your own logger. */
  debug?: boolean | ((message: string) => void);

  /** A batch goes out when this many events wait (default 500, at most 1000). */
  maxBatchEvents?: number;
  /** …or when this many bytes wait (default 4 MiB; keep it under the server's XRAY_MAX_BODY). */
  maxBatchBytes?: number;
  /** …or when the oldest waiting event is this old (default 200 ms). */
  flushIntervalMs?: number;
  /**
   * Most events kept in memory while the server is slow or away (default 20,000). Past it candidate
   * batches are dropped first (the step's `metadata.xray.candidatesDropped` says how many), runs
   * and steps only when no candidate batch is left; `stats().droppedByKind` counts them.
   */
  maxBufferEvents?: number;
  /** Most bytes kept in memory (default 64 MiB). */
  maxBufferBytes?: number;
  /** Per-request timeout (default 15 s). */
  requestTimeoutMs?: number;
  /** First retry delay (default 250 ms), doubled per failure with jitter, … */
  retryBaseMs?: number;
  /** …up to this (default 30 s); also the longest Retry-After honoured. */
  retryMaxMs?: number;
  /** Deadline of the flush made when the process is about to exit (default 5 s; 0 turns it off). */
  exitFlushTimeoutMs?: number;

  /** Candidate lists longer than this are sampled even when `capture: 'all'` (default 10,000). */
  captureAllLimit?: number;
  /** Rejected candidates kept per reason when sampling (default 50). */
  samplePerReason?: number;
  /** Candidates per ingest event (default 1000; the server takes up to XRAY_MAX_CANDIDATES_PER_REQUEST). */
  candidatesPerEvent?: number;

  /** How long an evaluator passed to `startRun` may take before it is given up and reported (default 30 s). */
  evaluatorTimeoutMs?: number;

  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

export type XrayStats = TransportStats;

/** A score given after the fact (`xray.score`): what it judges, then the score. */
export type ScoreRequest = ScoreOptions & {
  name: string;
  value: ScoreValue;
} & ({ runId: string; stepId?: undefined; key?: undefined } | { stepId: string; key?: string; runId?: string });

export interface ShutdownResult {
  /** True when everything recorded was answered before the deadline. */
  drained: boolean;
  /** Events given up at the deadline. */
  unsent: number;
}

const env = (name: string): string | undefined => (typeof process !== 'undefined' && process.env ? process.env[name] || undefined : undefined);

const num = (v: unknown, fallback: number, min: number, max: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;

/**
 * A typed client for every API operation, with the key set once:
 * `listRuns({ client: createApiClient({ baseUrl, apiKey }), query: { pipeline } })`.
 */
export function createApiClient(opts: { baseUrl: string; apiKey?: string; fetch?: typeof fetch; headers?: Record<string, string> }): Client {
  return createClient(createConfig({ baseUrl: opts.baseUrl.replace(/\/+$/, ''), ...(opts.fetch ? { fetch: opts.fetch } : {}), headers: authHeaders(opts) }));
}

/** Points the generated functions' default client at a server, so `listRuns({ query })` needs no `client`. */
export function configureApi(opts: { baseUrl: string; apiKey?: string; fetch?: typeof fetch; headers?: Record<string, string> }): void {
  defaultApiClient.setConfig({ baseUrl: opts.baseUrl.replace(/\/+$/, ''), ...(opts.fetch ? { fetch: opts.fetch } : {}), headers: authHeaders(opts) });
}

function authHeaders(opts: { apiKey?: string; headers?: Record<string, string> }): Record<string, string> {
  return { ...(opts.headers ?? {}), ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) };
}

/**
 * Records runs, steps and candidates and sends them to xray in the background.
 *
 * ```ts
 * const xray = new XrayClient({ baseUrl, apiKey });
 * const run = await xray.startRun({ pipeline: 'competitor-selection', input });
 * await run.step('filter-by-price', async (step) => { step.candidates(items); step.complete({ output }); }, { type: 'filter' });
 * await run.complete({ output });
 * await xray.shutdown();
 * ```
 *
 * Nothing it does throws into, blocks or crashes the pipeline: a dead server costs only the
 * (bounded) buffer. Problems go to `onError` and `stats()`.
 */
export class XrayClient {
  /** The generated API client with this key, for queries: `getRun({ client: xray.api, path: { id } })`. */
  readonly api: Client;
  private readonly transport?: Transport;
  private readonly core: Core;
  private readonly log: (message: string) => void;
  private readonly onError?: (error: XrayError) => void;
  private readonly exitFlushTimeoutMs: number;
  private exitHook?: () => void;
  private shutdownPromise?: Promise<ShutdownResult>;
  /** Evaluators still running; flush and shutdown wait for them. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(options: XrayClientOptions = {}) {
    const o = options ?? {};
    const debug = o.debug;
    this.log = typeof debug === 'function' ? safeLog(debug) : debug ? (m) => console.debug(`[xray] ${m}`) : () => {};
    this.onError = o.onError;
    const baseUrl = (o.baseUrl ?? env('XRAY_BASE_URL') ?? '').replace(/\/+$/, '');
    const apiKey = o.apiKey ?? env('XRAY_API_KEY') ?? '';
    const fetchFn: typeof fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.api = createApiClient({ baseUrl: baseUrl || 'http://localhost:3000', apiKey, fetch: fetchFn, headers: o.headers });
    this.exitFlushTimeoutMs = num(o.exitFlushTimeoutMs, 5_000, 0, 600_000);

    let enabled = o.enabled !== false;
    if (enabled && (!baseUrl || !apiKey || !/^https?:\/\//.test(baseUrl))) {
      enabled = false;
      const why = !baseUrl ? 'no baseUrl (or XRAY_BASE_URL)' : !apiKey ? 'no apiKey (or XRAY_API_KEY)' : `baseUrl "${baseUrl}" is not an http(s) URL`;
      // Visible even without debug: otherwise a typo in the config silently records nothing.
      console.warn(`[xray] ${why}: recording is disabled`);
      this.report(new XrayError('usage', `${why}: recording is disabled`));
    }

    if (enabled) {
      this.transport = new Transport({
        baseUrl,
        apiKey,
        maxBatchEvents: Math.floor(num(o.maxBatchEvents, 500, 1, 1000)),
        maxBatchBytes: num(o.maxBatchBytes, 4 * 1024 * 1024, 1024, 1024 ** 3),
        flushIntervalMs: num(o.flushIntervalMs, 200, 0, 60_000),
        maxBufferEvents: Math.floor(num(o.maxBufferEvents, 20_000, 1, 10_000_000)),
        maxBufferBytes: num(o.maxBufferBytes, 64 * 1024 * 1024, 1024, 16 * 1024 ** 3),
        requestTimeoutMs: num(o.requestTimeoutMs, 15_000, 1, 600_000),
        retryBaseMs: num(o.retryBaseMs, 250, 1, 60_000),
        retryMaxMs: num(o.retryMaxMs, 30_000, 1, 3_600_000),
        maxServerErrorAttempts: 10,
        maxParentRetries: 5,
        fetch: fetchFn,
        headers: { 'user-agent': `xray-sdk-js/${SDK_VERSION}`, ...(o.headers ?? {}) },
        onError: (e) => this.onError?.(e),
        log: this.log,
      });
      this.installExitHook();
    }

    const transport = this.transport;
    const mask = o.mask;
    this.core = {
      emit: transport
        ? <K extends EventType>(type: K, body: EventBodies[K], hooks?: EventHooks) => transport.enqueue(type, body, new Date().toISOString(), hooks)
        : () => {},
      // The host's values are taken as JSON: whatever JSON cannot hold is replaced when serialised.
      mask: mask
        ? (value, ctx) => {
            try {
              return mask(value, ctx) as JsonValue;
            } catch (err) {
              this.report(new XrayError('mask', `mask() threw on ${ctx.field}: ${(err as Error)?.message ?? err}; a marker was sent instead`, { cause: err }));
              return '[xray: mask failed]';
            }
          }
        : (value) => value as JsonValue,
      report: (e) => this.report(e),
      samplePerReason: Math.floor(num(o.samplePerReason, 50, 0, 1_000_000)),
      captureAllLimit: Math.floor(num(o.captureAllLimit, 10_000, 0, 100_000_000)),
      candidatesPerEvent: Math.floor(num(o.candidatesPerEvent, 1000, 1, 100_000)),
      maxReasons: 1000,
      evaluatorTimeoutMs: num(o.evaluatorTimeoutMs, 30_000, 0, 3_600_000),
      track: (work) => {
        const p = work.catch((err: unknown) => this.report(new XrayError('internal', `background work failed: ${(err as Error)?.message}`, { cause: err })));
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      },
    };
  }

  /** Starts a run. Resolves at once: the run is sent in the background. */
  async startRun(opts: StartRunOptions): Promise<Run> {
    return new Run(this.core, opts ?? ({} as StartRunOptions));
  }

  /**
   * Scores a run, a step or a candidate decision now, with a direct `POST /v1/scores`, and
   * resolves to the stored score: for feedback that comes later than the run, e.g. in a web
   * handler with a `feedback` key. Unlike the recording methods it rejects (an `XrayError` of
   * kind `http` with the server's status and error, or `network`) so the caller can answer its
   * own user. A repeat with the same `id` answers the score already stored.
   */
  async score(request: ScoreRequest): Promise<ScoreDto> {
    const problems: XrayError[] = [];
    const r = (isPlainObject(request) ? request : {}) as Partial<ScoreRequest>;
    const target: ScoreTarget =
      typeof r.stepId === 'string' && r.stepId ? { stepId: r.stepId, ...(r.key !== undefined ? { key: String(r.key) } : {}) } : { runId: r.runId };
    if (!target.stepId && !target.runId) throw new XrayError('usage', 'xray.score() needs a runId, a stepId, or a stepId and a key');
    const body = scoreBody({ report: (e) => problems.push(e) }, 'xray.score()', target, r.name, r.value, r, 'api');
    if (!body) throw problems[0] ?? new XrayError('usage', 'xray.score(): invalid score');
    // The server's default source is `api`; only send one the caller chose.
    if (r.source === undefined) delete (body as { source?: string }).source;
    if (typeof r.runId === 'string' && r.runId && target.stepId) (body as { runId?: string }).runId = r.runId;
    let res: Awaited<ReturnType<typeof createScore>>;
    try {
      res = await createScore({ client: this.api, body });
    } catch (err) {
      throw new XrayError('network', `xray.score(): ${(err as Error)?.message ?? err}`, { cause: err });
    }
    if (res.data) return res.data;
    const error = (res.error ?? {}) as { message?: string; error?: string };
    throw new XrayError('http', `xray.score(): ${res.response.status} ${error.message ?? error.error ?? ''}`.trim(), {
      status: res.response.status,
      cause: res.error,
    });
  }

  /** Sends everything recorded so far; resolves true when all of it was answered, false at the timeout (default 30 s). Never rejects. */
  async flush(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    if (!this.transport) return true;
    try {
      const deadline = Date.now() + num(opts?.timeoutMs, 30_000, 0, 3_600_000);
      if (!(await this.settlePending(deadline))) return false;
      return await this.transport.flush(Math.max(0, deadline - Date.now()));
    } catch (err) {
      this.report(new XrayError('internal', `flush failed: ${(err as Error)?.message}`, { cause: err }));
      return false;
    }
  }

  /**
   * Flushes, then stops sending. Returns by `timeoutMs` (default 5 s) whatever the server does;
   * what is still unsent then is counted in `stats().unsent`. Calling it again returns the same result.
   */
  shutdown(opts: { timeoutMs?: number } = {}): Promise<ShutdownResult> {
    if (this.shutdownPromise) return this.shutdownPromise;
    this.removeExitHook();
    if (!this.transport) return (this.shutdownPromise = Promise.resolve({ drained: true, unsent: 0 }));
    const transport = this.transport;
    const deadline = Date.now() + num(opts?.timeoutMs, 5_000, 0, 3_600_000);
    // Evaluators still running get the first part of the deadline; what they record is then sent.
    const closing =
      this.pending.size === 0
        ? transport.shutdown(deadline - Date.now())
        : this.settlePending(deadline).then(() => transport.shutdown(Math.max(0, deadline - Date.now())));
    this.shutdownPromise = closing.catch((err: unknown) => {
      this.report(new XrayError('internal', `shutdown failed: ${(err as Error)?.message}`, { cause: err }));
      return { drained: false, unsent: 0 };
    });
    return this.shutdownPromise;
  }

  /** Counters of what was recorded, sent, refused and dropped, and what waits in memory now. */
  stats(): XrayStats {
    return this.transport
      ? this.transport.stats()
      : {
          enqueued: 0,
          sent: 0,
          rejected: 0,
          dropped: 0,
          droppedByKind: { runs: 0, steps: 0, candidates: 0, scores: 0 },
          candidatesDropped: 0,
          unsent: 0,
          queued: 0,
          queuedBytes: 0,
          inFlight: 0,
          batches: 0,
          retries: 0,
        };
  }

  /** Waits for running evaluators until the deadline; true when none is left. */
  private async settlePending(deadline: number): Promise<boolean> {
    while (this.pending.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(this.pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    return true;
  }

  private report(err: XrayError): void {
    try {
      this.onError?.(err);
    } catch {
      // A throwing hook must not reach the pipeline.
    }
  }

  /** When the program is about to end with events still waiting, send them (bounded by exitFlushTimeoutMs). */
  private installExitHook(): void {
    if (this.exitFlushTimeoutMs <= 0 || typeof process === 'undefined' || typeof process.once !== 'function') return;
    this.exitHook = () => {
      this.removeExitHook();
      const s = this.stats();
      if (s.queued + s.inFlight === 0) return;
      this.log(`process exiting: flushing ${s.queued + s.inFlight} event(s) (up to ${this.exitFlushTimeoutMs} ms)`);
      void this.shutdown({ timeoutMs: this.exitFlushTimeoutMs });
    };
    process.once('beforeExit', this.exitHook);
  }

  private removeExitHook(): void {
    if (this.exitHook) process.removeListener('beforeExit', this.exitHook);
    this.exitHook = undefined;
  }
}

function safeLog(fn: (message: string) => void): (message: string) => void {
  return (m) => {
    try {
      fn(m);
    } catch {
      // ignore
    }
  };
}
