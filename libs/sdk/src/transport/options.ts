/** The sender's settings and counters. */
import type { XrayError } from '../errors.js';

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  /** Most events in one request (the server takes up to 1000). */
  maxBatchEvents: number;
  /** Largest request body to build, in bytes (an event larger than this goes alone). */
  maxBatchBytes: number;
  /** How long an event may wait for companions before a batch goes out. */
  flushIntervalMs: number;
  /** Most events held in memory; past it candidate batches are dropped first, then the oldest events. */
  maxBufferEvents: number;
  /** Most bytes held in memory; past it candidate batches are dropped first, then the oldest events. */
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
  /**
   * Events dropped because the buffer was full: candidate batches first (oldest first), run and
   * step events only when no candidate batch was left to drop.
   */
  dropped: number;
  /** `dropped` by what the events carried: run events, step events, candidate batches, scores. */
  droppedByKind: { runs: number; steps: number; candidates: number; scores: number };
  /** Candidates in the dropped candidate batches. */
  candidatesDropped: number;
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
