import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { AppError } from './app-error.js';
import { type ErrorBody, errorBody } from './error-body.js';

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

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

/**
 * Maps an expected error (ours, Nest's, or a database condition caused by input or by an
 * outage) to the shared shape; undefined for anything unexpected.
 */
export function describeError(exception: unknown): DescribedError | undefined {
  if (exception instanceof AppError) {
    return { body: errorBody(exception.status, exception.code, exception.message, exception.details), headers: exception.headers ?? {} };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : typeof (response as { message?: unknown }).message === 'string'
          ? (response as { message: string }).message
          : exception.message;
    return { body: errorBody(status, STATUS_CODES[status] ?? `HTTP_${status}`, message), headers: {} };
  }
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
  // connection in time, or did not answer a query by the client-side deadline (it hangs).
  if (
    exception instanceof Error &&
    /Connection terminated|timeout exceeded when trying to connect|Connection refused|Query read timeout|not queryable/i.test(exception.message)
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

export interface DescribedError {
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Renders every error, expected or not, as {@link ErrorBody}. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  /** @param onError told the code of every error answered (for metrics) */
  constructor(private readonly onError?: (code: string) => void) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { body, headers } = describeError(exception) ?? this.unexpected(exception, req);
    this.onError?.(body.error);
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.status(body.statusCode).json(body);
  }

  /**
   * Logs an unexpected error as one line (class, SQLSTATE or code, first line of the message),
   * never a stack trace or a query: those go to the debug level only.
   */
  private unexpected(exception: unknown, req: Request): DescribedError {
    const requestId = String((req as { id?: unknown }).id ?? '-');
    const error = exception instanceof Error ? exception : undefined;
    const code = (exception as { code?: unknown } | undefined)?.code;
    const message = (error?.message ?? String(exception)).split('\n')[0].slice(0, 300);
    this.logger.error(
      `Unexpected error on ${req.method} ${req.route?.path ?? '(unrouted)'} request ${requestId}: ` +
        `${error?.name ?? typeof exception}${typeof code === 'string' || typeof code === 'number' ? ` (${code})` : ''}: ${message}`,
    );
    if (error?.stack) this.logger.debug(`Stack trace of request ${requestId}: ${error.stack}`);
    return { body: errorBody(500, 'INTERNAL_ERROR', 'Internal server error'), headers: {} };
  }
}
