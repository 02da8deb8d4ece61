import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { type DescribedError, describeError } from './describe-error.js';
import { errorBody } from './error-body.js';

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
