/**
 * The SDK's sender: events are recorded into a bounded buffer (transport/event-queue.ts),
 * serialised once (transport/wire.ts) and sent in the background, one request at a time so the
 * server applies them in the order they happened, through a retrying layer
 * (transport/retrying-sender.ts) that applies the retry rule (transport/retry-policy.ts) around
 * the transport that makes the HTTP request (transport/ingest-transport.ts). This file only
 * schedules: when to send, flush and shutdown, and the counters.
 */
import { XrayError } from './errors.js';
import type { EventBodies, EventType } from './events.js';
import { EventQueue } from './transport/event-queue.js';
import { FetchIngestTransport, unref, type IngestTransport } from './transport/ingest-transport.js';
import { queued, RetryingSender, type QueuedEvent } from './transport/retrying-sender.js';
import { encodeEvent, EVENT_SEPARATOR, REQUEST_OVERHEAD } from './transport/wire.js';

export type { EventType } from './events.js';
export { backoffDelay, parseRetryAfter } from './transport/retry-policy.js';
export { safeStringify } from './transport/wire.js';

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
  /** Tries of an event answered 500 (or another 5xx that may be caused by the events) before it is given up (see retry-policy.ts). */
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

/**
 * Queues events in memory and sends them to `POST /v1/ingest` in the background. Nothing here
 * throws to the caller; problems go to `onError` and into the counters.
 */
export class Transport {
  private readonly queue = new EventQueue<QueuedEvent>();
  private readonly ingest: IngestTransport;
  private readonly sender: RetryingSender;
  private inFlight: QueuedEvent[] | null = null;
  private timer?: ReturnType<typeof setTimeout>;
  private timerAt = Infinity;
  private flushing = 0;
  private seq = 0;
  private closed = false;
  private stopped = false;
  private dropping = false;
  private waiters: (() => void)[] = [];
  private readonly counters = { enqueued: 0, sent: 0, rejected: 0, dropped: 0, unsent: 0, batches: 0, retries: 0 };
  private lastError?: string;

  constructor(private readonly opts: TransportOptions, ingest?: IngestTransport) {
    this.ingest = ingest ?? new FetchIngestTransport(opts);
    this.sender = new RetryingSender(this.ingest, { ...opts, counters: this.counters, report: (e) => this.report(e), log: opts.log });
  }

  /** Records an event to send; `body` is serialized now, so later changes to it are not seen. */
  enqueue<K extends EventType>(type: K, body: EventBodies[K], timestamp: string): void {
    if (this.closed) {
      this.counters.unsent++;
      if (this.counters.unsent === 1) this.report(new XrayError('unsent', 'Event recorded after shutdown(); it is not sent'));
      return;
    }
    const event = encodeEvent(type, body, timestamp, (err) =>
      this.report(new XrayError('serialize', `a value could not be sent as JSON as is (${(err as Error)?.message}); sent with replacements`, { cause: err })),
    );
    this.counters.enqueued++;
    this.queue.push(queued(event, ++this.seq));
    this.enforceBounds();
    this.schedule();
  }

  stats(): TransportStats {
    return {
      ...this.counters,
      queued: this.queue.length,
      queuedBytes: this.queue.bytes,
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
    this.ingest.abort();
    const left = this.queue.drain().length + (this.inFlight?.length ?? 0);
    this.inFlight = null;
    if (left) {
      this.counters.unsent += left;
      this.report(new XrayError('unsent', `shutdown deadline (${timeoutMs} ms) passed with ${left} event(s) unsent`, { count: left }));
    }
    this.notify();
    return { drained, unsent: left };
  }

  private hasUnanswered(target: number): boolean {
    const old = (e: QueuedEvent) => e.seq <= target;
    return (this.inFlight?.some(old) ?? false) || this.queue.some(old);
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
    const dropped = this.queue.enforceBounds(maxBufferEvents, maxBufferBytes);
    if (dropped.length === 0) return;
    this.counters.dropped += dropped.length;
    if (!this.dropping) {
      // Reported once per episode: the pipeline keeps going, only the counter moves.
      this.dropping = true;
      this.report(new XrayError('dropped', `buffer full (${maxBufferEvents} events / ${maxBufferBytes} bytes): dropping the oldest events`, { count: dropped.length }));
    }
  }

  private schedule(): void {
    if (this.stopped || this.inFlight) return;
    const now = Date.now();
    let at: number;
    if (this.queue.readyLength > 0) {
      const full =
        this.flushing > 0 ||
        this.queue.readyLength >= Math.min(this.opts.maxBatchEvents, this.sender.batchCap) ||
        this.queue.readyBytes >= this.opts.maxBatchBytes;
      at = full ? now : now + this.opts.flushIntervalMs;
      if (!full && this.timer && this.timerAt <= at) return;
    } else if (this.queue.length > 0) {
      at = this.queue.nextParkedAt();
    } else {
      return;
    }
    at = Math.max(at, this.sender.retryAt);
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

  private async sendNext(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    const now = Date.now();
    if (now < this.sender.retryAt) return this.schedule();
    const batch = this.queue.takeBatch(now, Math.min(this.opts.maxBatchEvents, this.sender.batchCap), this.opts.maxBatchBytes, REQUEST_OVERHEAD, EVENT_SEPARATOR);
    if (batch.length === 0) return this.schedule();
    this.inFlight = batch;
    let settled: Awaited<ReturnType<RetryingSender['send']>>;
    try {
      settled = await this.sender.send(batch, () => this.stopped);
    } catch (err) {
      // A bug in the SDK, not an answer: report it and try the batch again later.
      this.report(new XrayError('internal', `sending failed inside the SDK: ${(err as Error)?.message ?? err}`, { cause: err }));
      settled = { answered: false, retry: batch, park: [] };
    }
    // Shut down while the request was out: its events are already counted as unsent.
    if (this.stopped || !settled) return;
    this.inFlight = null;
    if (settled.answered) this.dropping = false;
    for (const e of settled.park) this.queue.park(e, e.notBefore);
    if (settled.retry.length) {
      this.queue.putBack(settled.retry);
      this.enforceBounds();
    }
    this.notify();
    this.schedule();
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
