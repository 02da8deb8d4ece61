/**
 * The retrying layer around the transport: sends one batch, applies the retry rule to the
 * whole request and to each event of a 207, and says which events go back to the queue (now,
 * or parked until a later time) and which are done. Retries go back through the queue rather
 * than being looped here, so events awaiting a retry stay under the buffer's bounds and a
 * retried request also carries what was recorded meanwhile.
 */
import { XrayError, type RejectedEvent } from '../errors.js';
import type { EventType } from '../events.js';
import type { EventKind, QueueItem } from './event-queue.js';
import type { EventResult, IngestTransport } from './ingest-transport.js';
import { backoffDelay, classifyOutcome, noAttempts, retryDecision, retryDelay, type Attempts, type Outcome, type RetryLimits } from './retry-policy.js';
import { candidateCount, requestJson, splitCandidates, type EncodedEvent } from './wire.js';

/** What the recorder of an event wants to hear about it. */
export interface EventHooks {
  /** Told how many candidates were lost when the buffer dropped (part of) this candidate batch. */
  onDropped?: (candidates: number) => void;
  /** An event queued earlier with the same key and not yet sent is replaced by this one. */
  replaces?: string;
  /** A note about dropped candidates: when the buffer is full it goes after candidate batches, before runs and steps. */
  note?: boolean;
}

/** An event in the buffer, with its retry counts. */
export interface QueuedEvent extends QueueItem {
  readonly event: EncodedEvent;
  readonly attempts: Attempts;
  readonly hooks?: EventHooks;
}

const KIND: Record<EventType, EventKind> = {
  'run-create': 'runs',
  'run-update': 'runs',
  'step-create': 'steps',
  'step-update': 'steps',
  'candidates-create': 'candidates',
  'score-create': 'scores',
};

export function queued(event: EncodedEvent, seq: number, hooks?: EventHooks): QueuedEvent {
  const kind = KIND[event.type];
  // Scores judge what runs and steps hold: when the buffer is full they go before structure.
  const tier = kind === 'candidates' ? 0 : hooks?.note || kind === 'scores' ? 1 : 2;
  return { event, seq, bytes: event.bytes, kind, tier, notBefore: 0, attempts: noAttempts(), ...(hooks ? { hooks } : {}) };
}

export interface SenderCounters {
  enqueued: number;
  sent: number;
  rejected: number;
  batches: number;
  retries: number;
}

export interface SenderOptions extends RetryLimits {
  retryBaseMs: number;
  retryMaxMs: number;
  counters: SenderCounters;
  report: (err: XrayError) => void;
  log: (message: string) => void;
}

export interface Settlement {
  /** The server answered the request (2xx): an outage, if there was one, is over. */
  answered: boolean;
  /** To send again as soon as allowed, before anything else, in this order. */
  retry: QueuedEvent[];
  /** To send again no sooner than their `notBefore`. */
  park: QueuedEvent[];
}

export class RetryingSender {
  /** No request before this time (backoff, Retry-After). */
  retryAt = 0;
  /** Most events per request; lowered after a 413 until a request succeeds. */
  batchCap = Infinity;
  /** Consecutive failed requests. */
  private failures = 0;

  constructor(
    private readonly transport: IngestTransport,
    private readonly opts: SenderOptions,
  ) {}

  /** Sends `batch`; undefined when `stopped()` became true meanwhile (its events are then someone else's business). */
  async send(batch: QueuedEvent[], stopped: () => boolean): Promise<Settlement | undefined> {
    this.opts.counters.batches++;
    const res = await this.transport.send(requestJson(batch.map((q) => q.event)));
    if (stopped()) return undefined;
    if (res.kind === 'answered') {
      this.failures = 0;
      this.retryAt = 0;
      this.batchCap = Infinity;
      if (!res.results) {
        this.report(
          new XrayError(
            'http',
            `ingest answered ${res.status} without per-event results; is ${this.transport.url} an xray server? Counting the events as sent`,
            { status: res.status },
          ),
        );
      }
      return { answered: true, ...this.settle(batch, res.results ?? []) };
    }
    if (res.kind === 'unreachable') {
      return this.requestFailed(
        batch,
        { network: true },
        undefined,
        (delay) => new XrayError('network', `cannot reach ${this.transport.url}: ${res.message}; retrying in ${delay} ms`, { cause: res.cause }),
      );
    }
    const { status, detail } = res;
    const said = `ingest answered ${status}${detail ? ` (${detail})` : ''}`;
    return this.requestFailed(batch, { status }, res.retryAfterMs, (delay) => new XrayError('http', `${said}; retrying in ${delay} ms`, { status }), said);
  }

  private requestFailed(
    batch: QueuedEvent[],
    outcome: Outcome,
    retryAfterMs: number | undefined,
    retrying: (delayMs: number) => XrayError,
    said = '',
  ): Settlement {
    const status = 'status' in outcome ? outcome.status : undefined;
    const cls = classifyOutcome(outcome, 'request');
    if (cls === 'too-large') {
      const halves = batch.length === 1 ? this.split(batch[0]) : undefined;
      if (halves) {
        this.opts.counters.retries++;
        return { answered: false, retry: halves, park: [] };
      }
      if (batch.length > 1) {
        this.batchCap = Math.max(1, Math.floor(batch.length / 2));
        this.opts.counters.retries++;
        this.opts.log(`413 for ${batch.length} events; retrying in batches of ${this.batchCap}`);
        return { answered: false, retry: batch, park: [] };
      }
    }
    if (cls === 'transient' || cls === 'server-error') {
      this.failures++;
      const delay = retryDelay(this.failures, retryAfterMs, this.opts.retryBaseMs, this.opts.retryMaxMs);
      this.retryAt = Date.now() + delay;
      const keep: QueuedEvent[] = [];
      const given: QueuedEvent[] = [];
      for (const e of batch) {
        const d = retryDecision(cls, e.attempts, this.opts);
        if (d.action === 'retry') {
          e.attempts[d.counter]++;
          keep.push(e);
        } else {
          given.push(e);
        }
      }
      if (given.length) {
        // Those that keep failing are given up so that one poisoned event cannot block the rest.
        this.opts.counters.rejected += given.length;
        this.report(
          new XrayError('rejected', `${given.length} event(s) given up after ${this.opts.maxServerErrorAttempts} server errors (${said})`, {
            status,
            count: given.length,
          }),
        );
      }
      this.opts.counters.retries++;
      this.report(retrying(delay));
      return { answered: false, retry: keep, park: [] };
    }
    // 400 (the batch itself is malformed), 401/403 (the key), 413 for a single event, …:
    // sending the same again cannot succeed.
    this.opts.counters.rejected += batch.length;
    this.report(
      new XrayError('http', `${said}; dropped ${batch.length} event(s)`, {
        status,
        count: batch.length,
        events: batch.map((e) => ({ id: e.event.id, type: e.event.type, status: status ?? 0 })),
      }),
    );
    return { answered: false, retry: [], park: [] };
  }

  /** Applies per-event results: done, retried (now or later), or refused. */
  private settle(batch: QueuedEvent[], results: EventResult[]): Omit<Settlement, 'answered'> {
    const byId = new Map<string, EventResult>();
    for (const r of results) if (r && typeof r.id === 'string') byId.set(r.id, r);
    const refused: RejectedEvent[] = [];
    const retry: QueuedEvent[] = [];
    const park: QueuedEvent[] = [];
    const now = Date.now();
    for (const e of batch) {
      const r = byId.get(e.event.id);
      // A result the server left out is taken as accepted: resending could not tell us more.
      const status = typeof r?.status === 'number' ? r.status : 200;
      const d = retryDecision(classifyOutcome({ status }, 'event'), e.attempts, this.opts);
      const halves = d.action === 'shrink' ? this.split(e) : undefined;
      if (d.action === 'done') {
        this.opts.counters.sent++;
      } else if (halves) {
        retry.push(...halves);
      } else if (d.action === 'retry') {
        const n = ++e.attempts[d.counter];
        e.notBefore = now + backoffDelay(n, this.opts.retryBaseMs, this.opts.retryMaxMs);
        park.push(e);
      } else {
        this.opts.counters.rejected++;
        refused.push({ id: e.event.id, type: e.event.type, status, error: r?.error });
      }
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
    return { retry, park };
  }

  /** A candidate batch found too large (413), cut in halves that replace it; undefined when it cannot be cut. */
  private split(e: QueuedEvent): QueuedEvent[] | undefined {
    const halves = splitCandidates(e.event);
    if (!halves) return undefined;
    this.opts.counters.enqueued++;
    this.opts.log(`413 for a batch of ${candidateCount(e.event)} candidates; sending it in two halves`);
    return halves.map((h) => queued(h, e.seq, e.hooks?.onDropped ? { onDropped: e.hooks.onDropped } : undefined));
  }

  private report(err: XrayError): void {
    this.opts.report(err);
  }
}
