import { HttpException } from '@nestjs/common';
import { type DescribedError, describeDatabaseError } from '../database/database-errors.js';
import { AppError } from './app-error.js';
import { errorBody } from './error-body.js';

export type { DescribedError };

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
  return describeDatabaseError(exception);
}
