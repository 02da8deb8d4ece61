import { createHash, timingSafeEqual } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { errorBody } from '../common/error-body.js';
import type { Metrics } from './metrics.service.js';

const STARTED = Symbol('xray:metrics-started');
type Timed = Response & { [STARTED]?: number };

/**
 * Times every request and records it when its answer is finished. One listener function for
 * all requests (no closure per request); the start time rides on the response object.
 */
export function requestTiming(metrics: Metrics) {
  const requests = metrics.requests;
  function finished(this: Timed): void {
    const req = this.req as Request;
    requests.observe(req.method, req.route?.path, this.statusCode, (performance.now() - this[STARTED]!) / 1000);
  }
  return (_req: Request, res: Timed, next: NextFunction) => {
    res[STARTED] = performance.now();
    res.on('finish', finished);
    next();
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics` in Prometheus text format. Outside `/v1` and outside the OpenAPI document: it
 * is for the operator's scraper, not an API client, and takes no API key. With a token, a
 * scrape must send `Authorization: Bearer <token>`; anything else answers 401.
 */
export function serveMetrics(http: Express, metrics: Metrics, token: string | undefined): void {
  metrics.collectProcessMetrics();
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
  http.get('/metrics', (req: Request, res: Response, next: NextFunction) => {
    if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      res.status(401).json(errorBody(401, 'UNAUTHORIZED', 'Send the metrics token (XRAY_METRICS_TOKEN) as "Authorization: Bearer <token>"'));
      return;
    }
    metrics.render().then(({ contentType, body }) => {
      res.setHeader('Content-Type', contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(body);
    }, next);
  });
}
