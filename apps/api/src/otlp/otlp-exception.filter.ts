import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { describeError } from '../common/describe-error.js';
import { HttpExceptionFilter } from '../common/http-exception.filter.js';
import { encodeStatus, otlpEncoding } from './otlp-decode.js';

/** The gRPC code a google.rpc.Status carries for an HTTP status. */
const GRPC_CODES: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14 };

/**
 * Errors of the OTLP receiver answer as the OTLP/HTTP specification says: a google.rpc.Status
 * in the request's encoding (JSON when the request has neither), with the shared error's
 * headers (e.g. Retry-After). Anything unexpected goes to the shared filter (logged, 500).
 */
@Catch()
export class OtlpExceptionFilter implements ExceptionFilter {
  private readonly fallback = new HttpExceptionFilter();

  catch(exception: unknown, host: ArgumentsHost): void {
    const described = describeError(exception);
    if (!described) return this.fallback.catch(exception, host);
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    if (res.headersSent) return;
    const { statusCode, message } = described.body;
    const answer = encodeStatus(otlpEncoding(req.headers['content-type']), GRPC_CODES[statusCode] ?? 2, message);
    for (const [name, value] of Object.entries(described.headers)) res.setHeader(name, value);
    res.status(statusCode).type(answer.contentType).send(answer.body);
  }
}
