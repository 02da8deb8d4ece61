import type { ErrorInfoDto } from './generated/types.gen.js';

/** What went wrong inside the SDK; handed to `onError`, never thrown into the pipeline. */
export type XrayErrorKind =
  /** The server could not be reached (or timed out); the batch is retried. */
  | 'network'
  /** The server answered a whole batch with an error status (429, 5xx are retried). */
  | 'http'
  /** The server refused some events (400, 409, a parent that never arrived, …); they are dropped. */
  | 'rejected'
  /** The buffer was full: candidate batches were dropped first, then the oldest events. */
  | 'dropped'
  /** Events were still unsent when `shutdown` reached its deadline, or arrived after it. */
  | 'unsent'
  /** The `mask` hook threw; the value was replaced by a marker rather than sent unmasked. */
  | 'mask'
  /** A value could not be turned into JSON as is (e.g. a BigInt); it was sent with replacements. */
  | 'serialize'
  /** An evaluator threw, timed out or returned something that is not a score; nothing of it was recorded. */
  | 'evaluator'
  /** Misuse of the SDK (e.g. an invalid candidate), or a bug in it. */
  | 'usage'
  | 'internal';

export interface RejectedEvent {
  id: string;
  type: string;
  status: number;
  error?: { statusCode?: number; error?: string; message?: string; details?: unknown };
}

export class XrayError extends Error {
  override readonly name = 'XrayError';
  constructor(
    readonly kind: XrayErrorKind,
    message: string,
    readonly extra: { status?: number; events?: RejectedEvent[]; count?: number; cause?: unknown } = {},
  ) {
    super(message);
  }

  get status(): number | undefined {
    return this.extra.status;
  }
}

/** The error shape the API stores for runs and steps. */
export type ErrorInfo = ErrorInfoDto;

const MAX_ERROR_MESSAGE = 10_000;
const MAX_STACK = 100_000;

export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 14)}…[truncated]`;
}

/** Describes anything thrown (an Error or not) within the API's limits. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const type = (err.constructor?.name && err.constructor.name !== 'Error' ? err.constructor.name : err.name) || 'Error';
    return {
      type: truncate(type, 200),
      message: truncate(String(err.message ?? ''), MAX_ERROR_MESSAGE) || type,
      ...(typeof err.stack === 'string' ? { stack: truncate(err.stack, MAX_STACK) } : {}),
    };
  }
  let message: string;
  try {
    message = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    message = String(err);
  }
  return { type: typeof err === 'object' && err !== null ? 'NonErrorObject' : 'NonError', message: truncate(message || String(err), MAX_ERROR_MESSAGE) };
}
