import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
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
  const app = await NestFactory.create(AppModule, { bodyParser: false, logger: LOG_LEVELS[config.logLevel] });
  configureApp(app);
  await app.listen(config.port);
  const url = `http://localhost:${config.port}`;
  new Logger('xray').log(`API listening on ${url} (Swagger UI at ${url}/docs)`);
}

void bootstrap();
