import 'reflect-metadata';
import { Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { JsonLogger } from './common/json-logger.js';
import { PrettyLogger } from './common/pretty-logger.js';
import { ConfigError, type AppConfig, loadConfig } from './config/config.js';

const LOG_LEVELS: Record<AppConfig['logLevel'], LogLevel[] | false> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
  silent: false,
};

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  // JSON lines for machines (the default when stdout is not a terminal), readable text for people.
  const format = process.env.XRAY_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') {
    console.error('Invalid configuration: XRAY_LOG_FORMAT must be json or pretty');
    process.exit(1);
  }
  const jsonLogger = format === 'json' ? new JsonLogger(config.logLevel) : undefined;
  const levels = LOG_LEVELS[config.logLevel];
  const logger: LoggerService | false = jsonLogger ?? (levels ? new PrettyLogger({ logLevels: levels }) : false);

  const app = await NestFactory.create(AppModule, { bodyParser: false, logger });
  configureApp(app, { requestLogger: jsonLogger });

  // Graceful shutdown (Nest's shutdown hooks): stop accepting, let in-flight requests finish,
  // close the pool. If that takes longer than XRAY_SHUTDOWN_TIMEOUT, exit anyway.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      new Logger('xray').log(`${signal} received: finishing in-flight requests, then exiting`);
      if (config.shutdownTimeoutMs > 0) setTimeout(() => process.exit(1), config.shutdownTimeoutMs).unref();
    });
  }

  await app.listen(config.port);
  const address = app.getHttpServer().address();
  const url = `http://localhost:${typeof address === 'object' && address ? address.port : config.port}`;
  new Logger('xray').log(
    [
      `API listening on ${url}: the dashboard at ${url}/ui/, Swagger UI at ${url}/docs`,
      `  OpenAPI document: ${url}/docs-json   readiness: ${url}/health/ready`,
      ...(config.metricsEnabled ? [`  Prometheus metrics: ${url}/metrics${config.metricsToken ? ' (XRAY_METRICS_TOKEN)' : ''}`] : []),
    ].join('\n'),
  );
}

void bootstrap();
