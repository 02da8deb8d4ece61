import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { JsonLogger } from './json-logger.js';

/** Who called, as the auth guard records it on the request (read here for the request log line only). */
interface CallerRequest {
  principal?: { kind: string; projectId?: string; keyId?: string };
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every answer carries `x-request-id` (the client's, when it sent a sane one). When a logger
 * is given, each finished request is logged with id, project, route, status and latency —
 * never a key, never a body.
 */
export function requestContext(logger?: JsonLogger) {
  return (req: Request & { id?: string }, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('x-request-id', id);
    if (logger?.enabled('info')) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const principal = (req as CallerRequest).principal;
        logger.write(res.statusCode >= 500 ? 'error' : 'info', {
          context: 'http',
          requestId: id,
          method: req.method,
          route: req.route?.path ?? null,
          path: req.baseUrl + (req.route?.path ?? ''),
          status: res.statusCode,
          latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
          projectId: principal?.kind === 'project' ? principal.projectId : undefined,
          keyId: principal?.kind === 'project' ? principal.keyId : undefined,
        });
      });
    }
    next();
  };
}
