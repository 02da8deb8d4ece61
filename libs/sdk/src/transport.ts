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
import type { TransportOptions, TransportStats } from './transport/options.js';
import { queued, RetryingSender, type EventHooks, type QueuedEvent } from './transport/retrying-sender.js';
import { candidateCount, encodeEvent, EVENT_SEPARATOR, REQUEST_OVERHEAD } from './transport/wire.js';

export type { EventType } from './events.js';
export type { EventHooks } from './transport/retrying-sender.js';
export { backoffDelay, parseRetryAfter } from './transport/retry-policy.js';
export { safeStringify } from './transport/wire.js';
export type { TransportOptions, TransportStats } from './transport/options.js';

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
  private enforcing = false;
  /** Queued events that a later event with the same key replaces. */
  private readonly replaceable = new Map<string, QueuedEvent>();
  private readonly droppedByKind = { runs: 0, steps: 0, candidates: 0, scores: 0 };
  private candidatesDropped = 0;
  private waiters: (() => void)[] = [];
  private readonly counters = { enqueued: 0, sent: 0, rejected: 0, dropped: 0, unsent: 0, batches: 0, retries: 0 };
  private lastError?: string;

  constructor(
    private readonly opts: TransportOptions,
    ingest?: IngestTransport,
  ) {
    this.ingest = ingest ?? new FetchIngestTransport(opts);
    this.sender = new RetryingSender(this.ingest, { ...opts, counters: this.counters, report: (e) => this.report(e), log: opts.log });
  }

  /** Records an event to send; `body` is serialized now, so later changes to it are not seen. */
  enqueue<K extends EventType>(type: K, body: EventBodies[K], timestamp: string, hooks?: EventHooks): void {
    if (this.closed) {
      this.counters.unsent++;
      if (this.counters.unsent === 1) this.report(new XrayError('unsent', 'Event recorded after shutdown(); it is not sent'));
      return;
    }
    const event = encodeEvent(type, body, timestamp, (err) =>
      this.report(new XrayError('serialize', `a value could not be sent as JSON as is (${(err as Error)?.message}); sent with replacements`, { cause: err })),
    );
    const item = queued(event, ++this.seq, hooks);
    if (hooks?.replaces) {
      const earlier = this.replaceable.get(hooks.replaces);
      // The earlier one is forgotten as if never recorded; one in flight is left to finish.
      if (earlier && this.queue.remove(earlier)) this.counters.enqueued--;
      this.replaceable.set(hooks.replaces, item);
    }
    this.counters.enqueued++;
    this.queue.push(item);
    this.enforceBounds();
    this.schedule();
  }

  stats(): TransportStats {
    return {
      ...this.counters,
      droppedByKind: { ...this.droppedByKind },
      candidatesDropped: this.candidatesDropped,
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
    this.replaceable.clear();
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

  /**
   * Drops what the bounds do not allow (candidate batches first) and tells the recorders of
   * dropped candidate batches, whose notes (a step-update) are events too, so this loops until
   * the buffer holds still. A note recorded from a hook re-enters here and returns at once.
   */
  private enforceBounds(): void {
    if (this.enforcing) return;
    this.enforcing = true;
    try {
      for (;;) {
        const { maxBufferEvents, maxBufferBytes } = this.opts;
        const dropped = this.queue.enforceBounds(maxBufferEvents, maxBufferBytes);
        if (dropped.length === 0) return;
        this.counters.dropped += dropped.length;
        const told = new Map<(n: number) => void, number>();
        for (const e of dropped) {
          this.droppedByKind[e.kind]++;
          this.forgetReplaceable(e);
          const n = candidateCount(e.event);
          this.candidatesDropped += n;
          const hook = e.hooks?.onDropped;
          if (hook && n) told.set(hook, (told.get(hook) ?? 0) + n);
        }
        if (!this.dropping) {
          // Reported once per episode: the pipeline keeps going, only the counters move.
          this.dropping = true;
          this.report(
            new XrayError(
              'dropped',
              `buffer full (${maxBufferEvents} events / ${maxBufferBytes} bytes): dropping candidate batches first, then the oldest events`,
              {
                count: dropped.length,
              },
            ),
          );
        }
        for (const [hook, n] of told) {
          try {
            hook(n);
          } catch (err) {
            this.report(new XrayError('internal', `a drop hook failed inside the SDK: ${(err as Error)?.message ?? err}`, { cause: err }));
          }
        }
      }
    } finally {
      this.enforcing = false;
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
      setTimeout(
        () => {
          this.timer = undefined;
          this.timerAt = Infinity;
          void this.sendNext();
        },
        Math.max(0, at - now),
      ),
    );
  }

  private async sendNext(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    const now = Date.now();
    if (now < this.sender.retryAt) return this.schedule();
    const batch = this.queue.takeBatch(
      now,
      Math.min(this.opts.maxBatchEvents, this.sender.batchCap),
      this.opts.maxBatchBytes,
      REQUEST_OVERHEAD,
      EVENT_SEPARATOR,
    );
    if (batch.length === 0) return this.schedule();
    for (const e of batch) this.forgetReplaceable(e);
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

  /** Once an event is on its way (or gone), a later one with its key no longer replaces it. */
  private forgetReplaceable(e: QueuedEvent): void {
    const key = e.hooks?.replaces;
    if (key && this.replaceable.get(key) === e) this.replaceable.delete(key);
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
