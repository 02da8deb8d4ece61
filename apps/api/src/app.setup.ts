import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import helmet from 'helmet';
import { ApiKeysService } from './auth/api-keys.service.js';
import { authenticateFirst } from './auth/authenticate-first.js';
import type { EarlyAuthentication } from './auth/presented-key.js';
import { dashboardStatic } from './dashboard/dashboard-static.js';
import { errorBody } from './common/error-body.js';
import { checkJson } from './common/json-limits.js';
import type { JsonLogger } from './common/json-logger.js';
import { requestContext } from './common/request-context.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { parseQuery } from './common/query-parser.js';
import { createValidationPipe } from './common/validation.js';
import { APP_CONFIG } from './config/config.module.js';
import { requestTiming, serveMetrics } from './metrics/metrics-http.js';
import { Metrics } from './metrics/metrics.service.js';
import type { AppConfig } from './config/config.js';

/** The OTLP receiver's path as the router matches it (any case, a trailing slash). */
const isOtlpPath = (path: string): boolean => /^\/v1\/traces\/?$/i.test(path);

/**
 * JSON bodies (of authenticated callers only: see authenticateFirst): parsed with the size
 * limit, then checked for nesting depth, string length and `__proto__` keys. Failures answer in
 * the shared error shape (Nest filters never see them).
 */
function jsonBody(config: AppConfig) {
  const limit = config.maxBodyBytes;
  const parse = express.json({ limit, strict: false });
  const limits = { maxDepth: config.maxJsonDepth, maxStringLength: config.maxStringLength };
  return (req: Request & EarlyAuthentication, res: Response, next: NextFunction) => {
    // The OTLP receiver reads its own body (protobuf or OTLP/JSON, maybe compressed).
    if (req.skipBody || isOtlpPath(req.path)) return next();
    parse(req, res, (err?: { type?: string; status?: number; limit?: number; message?: string }) => {
      if (!err) {
        const violation = req.body === undefined ? undefined : checkJson(req.body, limits);
        if (!violation) return next();
        const where = violation.path ? ` (at ${violation.path})` : '';
        if (violation.kind === 'depth') {
          return res.status(400).json(errorBody(400, 'JSON_TOO_DEEP', `JSON nesting exceeds ${limits.maxDepth} levels (XRAY_MAX_JSON_DEPTH)${where}`));
        }
        if (violation.kind === 'string') {
          return res
            .status(413)
            .json(errorBody(413, 'STRING_TOO_LONG', `A string exceeds ${limits.maxStringLength} characters (XRAY_MAX_STRING_LENGTH)${where}`));
        }
        return res.status(400).json(errorBody(400, 'FORBIDDEN_KEY', `"__proto__" is not allowed as a JSON key${where}`));
      }
      if (err.type === 'entity.too.large') {
        return res.status(413).json(errorBody(413, 'PAYLOAD_TOO_LARGE', `Request body exceeds the limit of ${limit} bytes (XRAY_MAX_BODY)`));
      }
      if (err.type === 'entity.parse.failed') {
        return res.status(400).json(errorBody(400, 'MALFORMED_JSON', 'The request body is not valid JSON'));
      }
      if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
        return res.status(415).json(errorBody(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as UTF-8 JSON'));
      }
      return res.status(err.status && err.status < 500 ? err.status : 400).json(errorBody(400, 'BAD_REQUEST', 'The request body could not be read'));
    });
  };
}

/**
 * Requests Node's HTTP parser refuses before any middleware runs (a request line or headers
 * over the header size limit, e.g. a 20,000-character id in the path, or a malformed request)
 * are answered in the shared error shape too, instead of Node's bare 431/400 without a body.
 */
function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            'HEADERS_TOO_LARGE',
            'The request line and headers exceed the size the server accepts; shorten the URL or headers',
          ]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'The request was not received in time']
          : [400, 'Bad Request', 'BAD_REQUEST', 'The HTTP request is malformed'];
    const body = JSON.stringify(errorBody(status, code, message));
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/**
 * Graceful shutdown under load. Closing the server refuses new connections, but a keep-alive
 * connection that a client keeps busy never turns idle, so the server would wait for it until
 * XRAY_SHUTDOWN_TIMEOUT and then cut off whatever was in flight. Once the server has stopped
 * listening, requests still arriving on an open connection are served with `Connection: close`,
 * and a connection whose request finishes then is closed as soon as it is idle.
 */
function drainOnClose(server: Server) {
  return (_req: Request, res: Response, next: NextFunction) => {
    if (!server.listening) res.setHeader('Connection', 'close');
    else {
      res.once('finish', () => {
        if (!server.listening) setImmediate(() => server.closeIdleConnections());
      });
    }
    next();
  };
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('xray API')
    .setDescription(
      'Decision-level observability for pipelines: runs, their nested steps, and every candidate a step weighed, with the decision and the reason.\n\n' +
        'Authenticate with a project API key: `Authorization: Bearer xr_…` (or `X-API-Key`). Each operation lists the scope it needs (`x-required-scope`).',
    )
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A project API key (`xr_…`), or the root key for project management.' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key, in a header of its own.' }, 'api-key')
    .build();
  return SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey, methodKey) => methodKey,
  });
}

export interface AppOptions {
  /** Logs one structured line per request (main.ts passes it in JSON log mode). */
  requestLogger?: JsonLogger;
}

/** Everything an app needs beyond its modules; main.ts and every e2e test call this. */
export function configureApp(app: INestApplication, options: AppOptions = {}): INestApplication {
  const config = app.get<AppConfig>(APP_CONFIG);
  const http = app.getHttpAdapter().getInstance() as express.Express;
  http.disable('x-powered-by');
  http.set('trust proxy', config.trustProxy);
  http.set('query parser', parseQuery);
  const metrics = app.get(Metrics);
  if (config.metricsEnabled) app.use(requestTiming(metrics));
  app.use(drainOnClose(app.getHttpServer() as Server));
  app.use(requestContext(options.requestLogger));
  app.use(
    helmet({
      // Swagger UI's own page needs inline styles and data: images; the API answers JSON only.
      contentSecurityPolicy: {
        directives: { 'img-src': ["'self'", 'data:'], 'style-src': ["'self'", "'unsafe-inline'"] },
      },
    }),
  );
  // The dashboard's files at /ui/ (with a stricter CSP of its own) and `GET /` → /ui/.
  app.use(dashboardStatic());
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Retry-After'],
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      maxAge: 600,
    });
  }
  answerClientErrors(app.getHttpServer() as Server);
  app.use(authenticateFirst(app.get(ApiKeysService), config));
  app.use(jsonBody(config));
  if (config.metricsEnabled) serveMetrics(http, metrics, config.metricsToken);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter((code) => metrics.countError(code)));
  app.enableShutdownHooks();
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    // No validator badge: it would send the document to validator.swagger.io from every browser.
    swaggerOptions: { persistAuthorization: true, validatorUrl: null },
  });
  return app;
}
