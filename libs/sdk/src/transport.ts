import { XrayError, type RejectedEvent } from './errors.js';
import { uuidv7 } from './uuid.js';

export type EventType = 'run-create' | 'run-update' | 'step-create' | 'step-update' | 'candidates-create';

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  /** Most events in one request (the server takes up to 1000). */
  maxBatchEvents: number;
  /** Largest request body to build, in bytes (an event larger than this goes alone). */
  maxBatchBytes: number;
  /** How long an event may wait for companions before a batch goes out. */
  flushIntervalMs: number;
  /** Most events held in memory; past it the oldest are dropped. */
  maxBufferEvents: number;
  /** Most bytes held in memory; past it the oldest are dropped. */
  maxBufferBytes: number;
  requestTimeoutMs: number;
  /** First retry delay; doubles per consecutive failure, with jitter. */
  retryBaseMs: number;
  /** Longest retry delay, and the longest Retry-After honoured. */
  retryMaxMs: number;
  /**
   * Attempts for a batch answered 500 (or another 5xx that may be caused by the events) before its
   * events are given up. 502, 503 and 504 (the server or a proxy says it is unavailable) and network
   * errors retry until the buffer's bounds or shutdown end them: an outage of any length loses nothing
   * the buffer can hold.
   */
  maxServerErrorAttempts: number;
  /** Times an event answered 404 (its parent not there yet) is tried again later. */
  maxParentRetries: number;
  fetch: typeof fetch;
  headers: Record<string, string>;
  onError: (err: XrayError) => void;
  log: (message: string) => void;
}

export interface TransportStats {
  /** Events accepted into the buffer. */
  enqueued: number;
  /** Events the server acknowledged. */
  sent: number;
  /** Events the server refused for good (invalid, conflicting, parent never arrived, or given up after repeated 5xx). */
  rejected: number;
  /** Events dropped because the buffer was full (oldest first). */
  dropped: number;
  /** Events still unsent when shutdown hit its deadline, or recorded after shutdown. */
  unsent: number;
  /** Events waiting in memory now (including those parked for a retry). */
  queued: number;
  /** Bytes waiting in memory now. */
  queuedBytes: number;
  /** Events in the request on the wire now. */
  inFlight: number;
  /** Requests sent. */
  batches: number;
  /** Failed requests that were (or will be) retried. */
  retries: number;
  /** The last problem met, if any. */
  lastError?: string;
}

interface PendingEvent {
  id: string;
  type: EventType;
  seq: number;
  /** The whole event, serialized once when it was recorded. */
  json: string;
  bytes: number;
  /** Requests answered 5xx that carried this event. */
  serverErrors: number;
  /** Times the server answered 404 for it. */
  notFound: number;
  /** Earliest time to send it again (404 retries). */
  notBefore: number;
}

/** A FIFO with cheap removal at the front and cheap put-back of a batch at the front. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  unshiftAll(batch: T[]): void {
    if (batch.length <= this.head) {
      this.head -= batch.length;
      for (let i = 0; i < batch.length; i++) this.items[this.head + i] = batch[i];
    } else {
      this.items = batch.concat(this.items.slice(this.head));
      this.head = 0;
    }
  }

  some(pred: (item: T) => boolean): boolean {
    for (let i = this.head; i < this.items.length; i++) if (pred(this.items[i])) return true;
    return false;
  }

  drain(): T[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}

const byteLength: (s: string) => number =
  typeof Buffer !== 'undefined' ? (s) => Buffer.byteLength(s, 'utf8') : (s) => new TextEncoder().encode(s).length;

/** Parses Retry-After (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with jitter: between half and all of base·2^(n−1), capped. */
/** Answers that say the server (or a proxy before it) is unavailable, not that the events are at fault. */
const UNAVAILABLE = new Set([502, 503, 504]);

export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(exp / 2 + random() * (exp / 2));
}

type Timer = ReturnType<typeof setTimeout>;

const unref = (t: Timer): Timer => {
  (t as { unref?: () => void }).unref?.();
  return t;
};

/**
 * Queues events in memory and sends them to `POST /v1/ingest` in the background, one request
 * at a time so the server applies them in the order they happened. Nothing here throws to the
 * caller; problems go to `onError` and into the counters.
 */
export class Transport {
  private readonly pending = new Fifo<PendingEvent>();
  private pendingBytes = 0;
  /** Events answered 404, waiting to be tried again. */
  private parked: PendingEvent[] = [];
  private parkedBytes = 0;
  private inFlight: PendingEvent[] | null = null;
  private abort?: AbortController;
  private timer?: Timer;
  private timerAt = Infinity;
  /** No request before this time (backoff, Retry-After). */
  private retryAt = 0;
  private failures = 0;
  /** Set after a 413: send smaller batches until one succeeds. */
  private batchCap = Infinity;
  private flushing = 0;
  private seq = 0;
  private closed = false;
  private stopped = false;
  private dropping = false;
  private waiters: (() => void)[] = [];
  private readonly counters = { enqueued: 0, sent: 0, rejected: 0, dropped: 0, unsent: 0, batches: 0, retries: 0 };
  private lastError?: string;
  private readonly url: string;

  constructor(private readonly opts: TransportOptions) {
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/v1/ingest`;
  }

  /** Records an event to send; `body` is serialized now, so later changes to it are not seen. */
  enqueue(type: EventType, body: Record<string, unknown>, timestamp: string): void {
    if (this.closed) {
      this.counters.unsent++;
      if (this.counters.unsent === 1) this.report(new XrayError('unsent', 'Event recorded after shutdown(); it is not sent'));
      return;
    }
    const item = this.makeEvent(type, this.serialize(body), timestamp, ++this.seq);
    this.counters.enqueued++;
    this.pending.push(item);
    this.pendingBytes += item.bytes;
    this.enforceBounds();
    this.schedule();
  }

  private makeEvent(type: EventType, bodyJson: string, timestamp: string, seq: number): PendingEvent {
    const id = uuidv7();
    const json = `{"id":"${id}","type":"${type}","timestamp":"${timestamp}","body":${bodyJson}}`;
    return { id, type, seq, json, bytes: byteLength(json), serverErrors: 0, notFound: 0, notBefore: 0 };
  }

  /**
   * A candidate batch the server finds too large (413: body size or candidates per request)
   * is cut in two halves, sent as new events; undefined when it cannot be cut further.
   */
  private splitCandidates(e: PendingEvent): PendingEvent[] | undefined {
    if (e.type !== 'candidates-create') return undefined;
    let parsed: { timestamp: string; body: { candidates?: unknown[] } & Record<string, unknown> };
    try {
      parsed = JSON.parse(e.json) as typeof parsed;
    } catch {
      return undefined;
    }
    const list = parsed.body.candidates;
    if (!Array.isArray(list) || list.length < 2) return undefined;
    const half = Math.ceil(list.length / 2);
    this.counters.enqueued++;
    this.opts.log(`413 for a batch of ${list.length} candidates; sending it in two halves`);
    return [list.slice(0, half), list.slice(half)].map((part) =>
      this.makeEvent('candidates-create', JSON.stringify({ ...parsed.body, candidates: part }), parsed.timestamp, e.seq),
    );
  }

  private serialize(body: Record<string, unknown>): string {
    try {
      return JSON.stringify(body);
    } catch (err) {
      this.report(new XrayError('serialize', `a value could not be sent as JSON as is (${(err as Error)?.message}); sent with replacements`, { cause: err }));
      return safeStringify(body);
    }
  }

  stats(): TransportStats {
    return {
      ...this.counters,
      queued: this.pending.length + this.parked.length,
      queuedBytes: this.pendingBytes + this.parkedBytes,
      inFlight: this.inFlight?.length ?? 0,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Sends everything recorded so far, as fast as the server allows, and resolves when it has
   * all been answered (true) or when `timeoutMs` passes (false). Never rejects.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const target = this.seq;
    const deadline = Date.now() + timeoutMs;
    this.flushing++;
    try {
      this.schedule();
      while (this.hasUnanswered(target)) {
        const left = deadline - Date.now();
        if (left <= 0 || this.stopped) return false;
        await this.waitForChange(left);
      }
      return true;
    } finally {
      this.flushing--;
    }
  }

  /** Flushes until the deadline, then stops for good: later events are counted as unsent. */
  async shutdown(timeoutMs: number): Promise<{ drained: boolean; unsent: number }> {
    this.closed = true;
    const drained = await this.flush(timeoutMs);
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    const left = this.pending.drain().concat(this.parked, this.inFlight ?? []);
    this.parked = [];
    this.pendingBytes = this.parkedBytes = 0;
    this.inFlight = null;
    if (left.length) {
      this.counters.unsent += left.length;
      this.report(new XrayError('unsent', `shutdown deadline (${timeoutMs} ms) passed with ${left.length} event(s) unsent`, { count: left.length }));
    }
    this.notify();
    return { drained, unsent: left.length };
  }

  private hasUnanswered(target: number): boolean {
    const old = (e: PendingEvent) => e.seq <= target;
    return (this.inFlight?.some(old) ?? false) || this.parked.some(old) || this.pending.some(old);
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // Not unref'd: a flush or shutdown the host awaits keeps the process up until its deadline.
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private enforceBounds(): void {
    const { maxBufferEvents, maxBufferBytes } = this.opts;
    let dropped = 0;
    while (
      this.pending.length > 0 &&
      (this.pending.length + this.parked.length > maxBufferEvents || this.pendingBytes + this.parkedBytes > maxBufferBytes)
    ) {
      const oldest = this.pending.shift()!;
      this.pendingBytes -= oldest.bytes;
      dropped++;
    }
    while (this.parked.length > 0 && (this.parked.length > maxBufferEvents || this.parkedBytes > maxBufferBytes)) {
      this.parkedBytes -= this.parked.shift()!.bytes;
      dropped++;
    }
    if (dropped === 0) return;
    this.counters.dropped += dropped;
    if (!this.dropping) {
      // Reported once per episode: the pipeline keeps going, only the counter moves.
      this.dropping = true;
      this.report(new XrayError('dropped', `buffer full (${maxBufferEvents} events / ${maxBufferBytes} bytes): dropping the oldest events`, { count: dropped }));
    }
  }

  private schedule(): void {
    if (this.stopped || this.inFlight) return;
    const now = Date.now();
    let at: number;
    if (this.pending.length > 0) {
      const full =
        this.flushing > 0 ||
        this.pending.length >= Math.min(this.opts.maxBatchEvents, this.batchCap) ||
        this.pendingBytes >= this.opts.maxBatchBytes;
      at = full ? now : now + this.opts.flushIntervalMs;
      if (!full && this.timer && this.timerAt <= at) return;
    } else if (this.parked.length > 0) {
      at = Math.min(...this.parked.map((e) => e.notBefore));
    } else {
      return;
    }
    at = Math.max(at, this.retryAt);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    // unref'd: the SDK never keeps a finished program alive (beforeExit flushes instead).
    this.timer = unref(
      setTimeout(() => {
        this.timer = undefined;
        this.timerAt = Infinity;
        void this.sendNext();
      }, Math.max(0, at - now)),
    );
  }

  private takeBatch(now: number): PendingEvent[] {
    // Parked events whose wait is over rejoin the queue.
    if (this.parked.length) {
      const ready = this.parked.filter((e) => e.notBefore <= now);
      if (ready.length) {
        this.parked = this.parked.filter((e) => e.notBefore > now);
        for (const e of ready) {
          this.parkedBytes -= e.bytes;
          this.pendingBytes += e.bytes;
          this.pending.push(e);
        }
      }
    }
    const max = Math.min(this.opts.maxBatchEvents, this.batchCap);
    const batch: PendingEvent[] = [];
    let bytes = 12;
    while (batch.length < max) {
      const next = this.pending.peek();
      if (!next) break;
      if (batch.length > 0 && bytes + next.bytes + 1 > this.opts.maxBatchBytes) break;
      this.pending.shift();
      this.pendingBytes -= next.bytes;
      batch.push(next);
      bytes += next.bytes + 1;
    }
    return batch;
  }

  private async sendNext(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    const now = Date.now();
    if (now < this.retryAt) return this.schedule();
    const batch = this.takeBatch(now);
    if (batch.length === 0) return this.schedule();
    this.inFlight = batch;
    this.counters.batches++;
    const abort = new AbortController();
    this.abort = abort;
    const timeout = unref(setTimeout(() => abort.abort(), this.opts.requestTimeoutMs));
    let outcome: 'ok' | 'retry' | 'drop' = 'drop';
    try {
      const res = await this.opts.fetch(this.url, {
        method: 'POST',
        headers: {
          ...this.opts.headers,
          'content-type': 'application/json',
          authorization: `Bearer ${this.opts.apiKey}`,
        },
        body: `{"events":[${batch.map((e) => e.json).join(',')}]}`,
        signal: abort.signal,
      });
      // Shut down while the request was out: its events are already counted as unsent.
      if (this.stopped) return;
      outcome = await this.handleResponse(batch, res);
    } catch (err) {
      if (this.stopped) return;
      outcome = 'retry';
      const msg = abort.signal.aborted ? `request timed out after ${this.opts.requestTimeoutMs} ms` : describeNetworkError(err);
      this.failures++;
      this.counters.retries++;
      this.retryAt = Date.now() + backoffDelay(this.failures, this.opts.retryBaseMs, this.opts.retryMaxMs);
      this.report(new XrayError('network', `cannot reach ${this.url}: ${msg}; retrying in ${this.retryAt - Date.now()} ms`, { cause: err }));
    } finally {
      clearTimeout(timeout);
      if (this.abort === abort) this.abort = undefined;
    }
    if (this.stopped) return;
    this.inFlight = null;
    if (outcome === 'retry') {
      this.pending.unshiftAll(batch);
      this.pendingBytes += batch.reduce((n, e) => n + e.bytes, 0);
      this.enforceBounds();
    }
    this.notify();
    this.schedule();
  }

  private async handleResponse(batch: PendingEvent[], res: Response): Promise<'ok' | 'retry' | 'drop'> {
    const status = res.status;
    if (status === 207 || (status >= 200 && status < 300)) {
      let results: { id?: string; status?: number; error?: RejectedEvent['error'] }[] | undefined;
      try {
        results = ((await res.json()) as { results?: typeof results })?.results;
      } catch {
        results = undefined;
      }
      this.failures = 0;
      this.retryAt = 0;
      this.batchCap = Infinity;
      this.dropping = false;
      if (!Array.isArray(results)) {
        this.report(new XrayError('http', `ingest answered ${status} without per-event results; is ${this.url} an xray server? Counting the events as sent`, { status }));
      }
      this.settle(batch, Array.isArray(results) ? results : []);
      return 'ok';
    }
    const text = await res.text().catch(() => '');
    const detail = errorMessage(text);
    const halves = status === 413 && batch.length === 1 ? this.splitCandidates(batch[0]) : undefined;
    if (halves) {
      batch.splice(0, 1, ...halves);
      this.counters.retries++;
      return 'retry';
    }
    if (status === 413 && batch.length > 1) {
      this.batchCap = Math.max(1, Math.floor(batch.length / 2));
      this.counters.retries++;
      this.opts.log(`413 for ${batch.length} events; retrying in batches of ${this.batchCap}`);
      return 'retry';
    }
    if (status === 429 || status >= 500 || status === 408) {
      this.failures++;
      const hinted = status === 429 || status === 503 ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
      const delay = hinted !== undefined ? Math.min(hinted, this.opts.retryMaxMs) : backoffDelay(this.failures, this.opts.retryBaseMs, this.opts.retryMaxMs);
      this.retryAt = Date.now() + delay;
      if (status >= 500 && !UNAVAILABLE.has(status)) {
        const given = batch.filter((e) => ++e.serverErrors >= this.opts.maxServerErrorAttempts);
        if (given.length) {
          // Those that keep failing are given up so that one poisoned event cannot block the rest.
          const keep = batch.filter((e) => e.serverErrors < this.opts.maxServerErrorAttempts);
          batch.length = 0;
          batch.push(...keep);
          this.counters.rejected += given.length;
          this.report(new XrayError('rejected', `${given.length} event(s) given up after ${this.opts.maxServerErrorAttempts} server errors (${status} ${detail})`, { status, count: given.length }));
        }
      }
      this.counters.retries++;
      this.report(new XrayError('http', `ingest answered ${status}${detail ? ` (${detail})` : ''}; retrying in ${delay} ms`, { status }));
      return 'retry';
    }
    // 400 (the batch itself is malformed), 401/403 (the key), 413 for a single event, …:
    // sending the same again cannot succeed.
    this.counters.rejected += batch.length;
    this.report(
      new XrayError('http', `ingest answered ${status}${detail ? ` (${detail})` : ''}; dropped ${batch.length} event(s)`, {
        status,
        count: batch.length,
        events: batch.map((e) => ({ id: e.id, type: e.type, status })),
      }),
    );
    return 'drop';
  }

  /** Applies per-event results: ok, retry later (404: parent not there yet), or refused. */
  private settle(batch: PendingEvent[], results: { id?: string; status?: number; error?: RejectedEvent['error'] }[]): void {
    const byId = new Map<string, (typeof results)[number]>();
    for (const r of results) if (r && typeof r.id === 'string') byId.set(r.id, r);
    const refused: RejectedEvent[] = [];
    const resend: PendingEvent[] = [];
    const now = Date.now();
    for (const e of batch) {
      const r = byId.get(e.id);
      // A result the server left out is taken as accepted: resending could not tell us more.
      const st = typeof r?.status === 'number' ? r.status : 200;
      const halves = st === 413 ? this.splitCandidates(e) : undefined;
      if (st < 300) {
        this.counters.sent++;
      } else if (halves) {
        resend.push(...halves);
      } else if (st === 404 && e.notFound < this.opts.maxParentRetries) {
        e.notFound++;
        e.notBefore = now + backoffDelay(e.notFound, this.opts.retryBaseMs, this.opts.retryMaxMs);
        this.parked.push(e);
        this.parkedBytes += e.bytes;
      } else if (st === 429 || st >= 500) {
        // A transient failure of this one event: try it again with the next batches.
        e.notFound++;
        e.notBefore = now + backoffDelay(e.notFound, this.opts.retryBaseMs, this.opts.retryMaxMs);
        if (e.notFound <= this.opts.maxParentRetries) {
          this.parked.push(e);
          this.parkedBytes += e.bytes;
        } else {
          this.counters.rejected++;
          refused.push({ id: e.id, type: e.type, status: st, error: r?.error });
        }
      } else {
        this.counters.rejected++;
        refused.push({ id: e.id, type: e.type, status: st, error: r?.error });
      }
    }
    if (resend.length) {
      this.pending.unshiftAll(resend);
      this.pendingBytes += resend.reduce((n, e) => n + e.bytes, 0);
    }
    if (refused.length) {
      const first = refused[0];
      const why = first.error?.message ?? first.error?.error ?? `status ${first.status}`;
      this.report(
        new XrayError('rejected', `${refused.length} event(s) refused by the server, first: ${first.type} ${first.status} ${why}`, {
          status: first.status,
          count: refused.length,
          events: refused,
        }),
      );
    }
  }

  private report(err: XrayError): void {
    this.lastError = err.message;
    this.opts.log(err.message);
    try {
      this.opts.onError(err);
    } catch {
      // The host's hook must not break the sender either.
    }
  }
}

/** JSON.stringify that survives cycles, BigInt and throwing toJSON/getters. */
export function safeStringify(value: unknown): string {
  // The chain of objects from the root to the value being written: a value already on it is a cycle.
  const ancestors: unknown[] = [];
  try {
    return (
      JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
        if (typeof v === 'bigint') return v.toString();
        if (typeof v !== 'object' || v === null) return v;
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
        if (ancestors.includes(v)) return '[Circular]';
        ancestors.push(v);
        return v;
      }) ?? 'null'
    );
  } catch {
    return '{"xray.unserializable":true}';
  }
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ? `${err.message} (${cause.code})` : cause?.message ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

function errorMessage(text: string): string {
  if (!text) return '';
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return [body.error, body.message].filter(Boolean).join(': ').slice(0, 500);
  } catch {
    return text.slice(0, 200);
  }
}
