import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';
import { configureApp } from '../src/app.setup.js';
import type { JsonLogger } from '../src/common/json-logger.js';
import { APP_CONFIG } from '../src/config/config.module.js';
import { type AppConfig, loadConfig } from '../src/config/config.js';

/**
 * Boots the real AppModule through configureApp, exactly like main.ts, against:
 * - a fresh database created on the PostgreSQL in DATABASE_URL (dropped afterwards), or
 * - the embedded default (PGlite, in memory) when DATABASE_URL is unset.
 */
export interface TestApp {
  app: INestApplication;
  http: ReturnType<INestApplication['getHttpServer']>;
  config: AppConfig;
  rootKey: string;
  /** The PostgreSQL URL the app talks to (a test database, or the embedded server's socket). */
  databaseUrl: string;
  /** The database the app uses, for assertions that must look under the API. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Creates a project through the API and returns its admin key. */
  newProject(prefix?: string): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

export const usingRealPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

export async function createTestDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `xray_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  // Tests only ever create, use and drop databases whose names say they are for tests.
  if (!/^xray_test_/.test(name)) throw new Error(`refusing to use database ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestAppOptions {
  /** Share another test app's database, as a second API process would. */
  shareDatabaseWith?: TestApp;
  /** Use the embedded default (in memory) even when DATABASE_URL is set. */
  embedded?: boolean;
  /** Send the app's logs (Nest logger and per-request lines) to this logger, as main.ts does in JSON mode. */
  logger?: JsonLogger;
}

export async function createTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const rootKey = `root-${randomBytes(24).toString('hex')}`;
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  if (options.shareDatabaseWith) {
    databaseUrl = options.shareDatabaseWith.databaseUrl;
  } else if (usingRealPostgres() && !options.embedded) {
    const db = await createTestDatabase(process.env.DATABASE_URL!);
    databaseUrl = db.url;
    drop = db.drop;
  }
  const config = loadConfig({
    XRAY_DATA_DIR: 'memory://',
    XRAY_LOG_LEVEL: 'silent',
    XRAY_SWEEP_INTERVAL: '0',
    ...env,
    XRAY_ROOT_KEY: env.XRAY_ROOT_KEY ?? rootKey,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });

  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(APP_CONFIG)
    .useValue(config)
    .compile();
  moduleRef.useLogger(false);
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
  if (options.logger) app.useLogger(options.logger);
  configureApp(app, { requestLogger: options.logger });
  await app.init();
  const http = app.getHttpServer();
  const { DataSource } = await import('typeorm');
  const dataSource = app.get(DataSource);
  const { DatabaseHandle } = await import('../src/database/database.module.js');
  const handle = app.get(DatabaseHandle);

  let counter = 0;
  return {
    app,
    http,
    config,
    rootKey: config.rootKey ?? rootKey,
    databaseUrl: databaseUrl ?? handle.embedded!.url,
    sql: (text, params) => dataSource.query(text, params),
    async newProject(prefix = 'team') {
      const name = `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;
      const res = await request(http).post('/v1/projects').set('Authorization', `Bearer ${config.rootKey}`).send({ name });
      if (res.status !== 201) throw new Error(`creating project failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id, key: res.body.apiKey.key };
    },
    async close() {
      await app.close();
      await drop?.();
    },
  };
}

/** Asserts the shared error shape and returns the body. */
export function expectError(res: request.Response, status: number, code?: string): Record<string, unknown> {
  expect({ status: res.status, body: res.body }).toMatchObject({
    status,
    body: { statusCode: status, error: code ?? expect.any(String), message: expect.any(String) },
  });
  return res.body;
}
