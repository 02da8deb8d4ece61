/**
 * The retry rule, on its own: what to do with a request, or with one event of it, given what the
 * server (or the network) answered and how often that event was tried. Pure: no clock, no I/O.
 */

/** Where an answer applies: the whole request, or one event inside a 207. */
export type Scope = 'request' | 'event';

/** What came back: a network failure (including a timeout), or an HTTP status. */
export type Outcome = { network: true } | { status: number };

export type OutcomeClass =
  /** 2xx: applied (or applied before). */
  | 'ok'
  /** The server, a proxy or the network says "not now". */
  | 'transient'
  /** 500 and other 5xx that may be caused by the events themselves. */
  | 'server-error'
  /** 404 for one event: its parent run or step is not there yet. */
  | 'parent-missing'
  /** 413: the request or the event is too large. */
  | 'too-large'
  /** Sending the same again cannot succeed. */
  | 'refused';

/** Statuses that say the server (or a proxy before it) is unavailable, not that the events are at fault. */
const UNAVAILABLE = new Set([408, 429, 502, 503, 504]);

export function classifyOutcome(outcome: Outcome, scope: Scope): OutcomeClass {
  if ('network' in outcome) return 'transient';
  const s = outcome.status;
  if (s >= 200 && s < 300) return 'ok';
  if (UNAVAILABLE.has(s)) return 'transient';
  if (s >= 500) return 'server-error';
  if (s === 413) return 'too-large';
  // A whole request answered 404 means the URL is wrong, not that a parent is late.
  if (s === 404 && scope === 'event') return 'parent-missing';
  return 'refused';
}

/** How often an event met each retried class so far. */
export interface Attempts {
  transient: number;
  serverErrors: number;
  parentMissing: number;
}

export const noAttempts = (): Attempts => ({ transient: 0, serverErrors: 0, parentMissing: 0 });

export interface RetryLimits {
  /** Tries of an event that keeps meeting 500 (or another non-"unavailable" 5xx). */
  maxServerErrorAttempts: number;
  /** Retries of an event answered 404 (parent not there yet). */
  maxParentRetries: number;
}

export type RetryDecision =
  | { action: 'done' }
  /** Try again later; `counter` is the attempt counter to raise (and to base the backoff on). */
  | { action: 'retry'; counter: keyof Attempts }
  /** Cut it smaller (split a candidate batch, or send fewer events per request). */
  | { action: 'shrink' }
  /** Give it up and report it; `exhausted` when it was retried until its count ran out. */
  | { action: 'drop'; exhausted: boolean };

/**
 * The SDK's one retry policy: what happens to an event (or a whole request) after an answer.
 * The same rule holds whether the answer is for the whole request or for one event in a 207;
 * each event keeps its own count per class, and `attempts` are the counts before this answer.
 *
 * - Transient (network error or timeout, 408, 429, 502, 503, 504): retried with exponential
 *   backoff and jitter (a request's Retry-After honoured, up to `retryMaxMs`) for as long as
 *   it lasts. No count ends it: only the buffer's bounds (which drop candidate batches first)
 *   and shutdown's deadline do, so an outage of any length loses nothing the buffer can hold.
 * - 404 for one event (its parent run or step is not there yet): retried with backoff
 *   `maxParentRetries` times (default 5), then dropped and reported. A 404 for the whole
 *   request means a wrong URL: dropped and reported.
 * - 500 and other 5xx that may be caused by the events: tried `maxServerErrorAttempts` times
 *   (default 10) in all, then dropped and reported, so one poisoned event cannot block the rest.
 * - 413: cut smaller (a candidate batch in halves, or fewer events per request); a single
 *   event that cannot be cut is dropped and reported.
 * - 400, 401, 403, 409 and any other 4xx: dropped and reported at once (sending the same
 *   again cannot succeed).
 */
export function retryDecision(cls: OutcomeClass, attempts: Attempts, limits: RetryLimits): RetryDecision {
  switch (cls) {
    case 'ok':
      return { action: 'done' };
    case 'transient':
      return { action: 'retry', counter: 'transient' };
    case 'server-error':
      return attempts.serverErrors + 1 < limits.maxServerErrorAttempts ? { action: 'retry', counter: 'serverErrors' } : { action: 'drop', exhausted: true };
    case 'parent-missing':
      return attempts.parentMissing < limits.maxParentRetries ? { action: 'retry', counter: 'parentMissing' } : { action: 'drop', exhausted: true };
    case 'too-large':
      return { action: 'shrink' };
    case 'refused':
      return { action: 'drop', exhausted: false };
  }
}

/** Exponential backoff with jitter: between half and all of base·2^(n−1), capped. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** The wait before try number `failures + 1`: the server's Retry-After when it gave one (capped), else backoff. */
export function retryDelay(failures: number, retryAfterMs: number | undefined, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return retryAfterMs !== undefined ? Math.min(retryAfterMs, maxMs) : backoffDelay(failures, baseMs, maxMs, random);
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
