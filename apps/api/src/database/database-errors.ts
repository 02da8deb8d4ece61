import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { type ErrorBody, errorBody } from '../common/error-body.js';

/**
 * What a database failure means for the caller, in the shared error shape: a value PostgreSQL
 * refused is the client's (4xx, without SQL in it), an outage or a conflict with a concurrent
 * request is worth retrying (503 with Retry-After). Used by the HTTP exception filter and by the
 * ingest writer, which decides per event from the same answer.
 */
export interface DescribedError {
  body: ErrorBody;
  headers: Record<string, string>;
}

/** PostgreSQL error classes that mean "the database is unavailable", not "the input is wrong". */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300']);

/** Deadlock, serialization failure, lock not available: nothing wrong with the request, retry it. */
const TRANSIENT_CONFLICT_SQLSTATES = new Set(['40P01', '40001', '55P03']);

function describeDataError(code: string): string {
  switch (code) {
    case '22P05':
    case '22021':
      return 'A text or JSON value contains a character PostgreSQL cannot store (such as \\u0000)';
    case '22003':
      return 'A number is out of the range the field accepts';
    case '22007':
    case '22008':
      return 'A date is invalid or out of range';
    case '23514':
      return 'The values break a consistency rule (for example endedAt before startedAt)';
    case '23502':
      return 'A field that needs a value was sent as null';
    default:
      return 'A value is not valid for its field';
  }
}

/** The meaning of a database or driver error; undefined when it is not one this layer knows. */
export function describeDatabaseError(exception: unknown): DescribedError | undefined {
  const code = (exception as { code?: unknown })?.code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || /ECONNREFUSED|ECONNRESET|ETIMEDOUT/.test(code))) {
    return unavailable();
  }
  if (exception instanceof QueryFailedError && typeof code === 'string') {
    // Values PostgreSQL refused (out-of-range numbers, NUL bytes in JSON, end before start...)
    // come from client input: a 4xx without SQL in it.
    if (code.startsWith('22') || code === '23514' || code === '23502') {
      return { body: errorBody(400, 'INVALID_VALUE', describeDataError(code)), headers: {} };
    }
    if (code === '23505') {
      return { body: errorBody(409, 'CONFLICT', 'A resource with this identity already exists'), headers: {} };
    }
    if (TRANSIENT_CONFLICT_SQLSTATES.has(code)) {
      return {
        body: errorBody(503, 'TRANSIENT_CONFLICT', 'The database aborted this request to resolve a conflict with a concurrent one; retry it'),
        headers: { 'Retry-After': '1' },
      };
    }
    if (code === '57014') {
      return {
        body: errorBody(503, 'STATEMENT_TIMEOUT', 'The query took longer than the configured statement timeout (XRAY_STATEMENT_TIMEOUT_MS)'),
        headers: { 'Retry-After': '5' },
      };
    }
  }
  // Connection-level failures from the pg driver: the server went away, did not accept a
  // connection in time, or did not answer a query by the client-side deadline (it hangs). On a
  // Citus cluster, a worker the coordinator cannot reach (most such errors are SQLSTATE 08006,
  // above; a COPY's is an internal error with this message).
  if (
    exception instanceof Error &&
    /Connection terminated|timeout exceeded when trying to connect|Connection refused|Query read timeout|not queryable|could not connect to any active placements/i.test(
      exception.message,
    )
  ) {
    return unavailable();
  }
  // TypeORM releases a transaction's connection as soon as the driver reports it broken; any
  // later statement of that transaction (its ROLLBACK included) then fails with one of these.
  if (exception instanceof QueryRunnerAlreadyReleasedError || exception instanceof QueryRunnerProviderAlreadyReleasedError) {
    return unavailable();
  }
  return undefined;
}

const unavailable = (): DescribedError => ({
  body: errorBody(503, 'DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly'),
  headers: { 'Retry-After': '5' },
});
