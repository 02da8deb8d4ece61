import 'reflect-metadata';
import { jest } from '@jest/globals';
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
  /** Closes the app only (once), keeping its test database. */
  closeApp(): Promise<void>;
  /** Closes the app, then drops its test database. */
  close(): Promise<void>;
}

/**
 * XRAY_TEST_CITUS_URL: the `postgres` database of a Citus coordinator whose workers are
 * registered. Set, it stands in for DATABASE_URL: every test database is created on the
 * coordinator and on each worker, with the citus extension, and the workers are registered in
 * it, so the migrations distribute its tables (see the README's "Running on a Citus cluster").
 */
const citusUrl = process.env.XRAY_TEST_CITUS_URL;
if (citusUrl) {
  process.env.DATABASE_URL = citusUrl;
  // A test database on a cluster takes longer to make (three databases, the tables' shards on
  // every worker, the day partitions distributed as they are created).
  jest.setTimeout(300_000);
  // Few shards per table: each test database creates its tables' shards on every worker.
  process.env.XRAY_CITUS_SHARD_COUNT ??= '4';
}

export const usingRealPostgres = (): boolean => Boolean(process.env.DATABASE_URL);
export const usingCitus = (): boolean => Boolean(citusUrl);

/**
 * Runs a test's trigger statement (CREATE or DROP TRIGGER, ALTER TABLE … ENABLE or DISABLE
 * TRIGGER: a fault injected into a table). On a Citus coordinator a trigger on a distributed
 * table needs `citus.enable_unsafe_triggers` in the session (Citus then puts it on every
 * shard), so the statement runs on a connection of its own.
 */
export async function triggerDdl(t: Pick<TestApp, 'sql' | 'databaseUrl'>, statement: string): Promise<void> {
  if (!usingCitus()) {
    await t.sql(statement);
    return;
  }
  await onServer(t.databaseUrl, async (c) => {
    await c.query('SET citus.enable_unsafe_triggers = on');
    await c.query(statement);
  });
}

const withDatabase = (serverUrl: string, database: string): string => {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
};

async function onServer<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** A Citus coordinator's workers, as URLs of their `postgres` database (same user as the coordinator's). */
async function citusWorkers(coordinatorUrl: string): Promise<{ host: string; port: number; url: string }[]> {
  const rows = await onServer(
    coordinatorUrl,
    async (c) =>
      (
        await c.query<{ host: string; port: number }>(
          `SELECT nodename AS host, nodeport AS port FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' ORDER BY nodeport`,
        )
      ).rows,
  );
  return rows.map((r) => {
    const url = new URL(coordinatorUrl);
    url.hostname = r.host;
    url.port = String(r.port);
    url.pathname = '/postgres';
    return { ...r, url: url.toString() };
  });
}

const sameServer = (a: string, b: string): boolean => {
  const [x, y] = [new URL(a), new URL(b)];
  return x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432');
};

export async function createTestDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `xray_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  // Tests only ever create, use and drop databases whose names say they are for tests.
  if (!/^xray_test_/.test(name)) throw new Error(`refusing to use database ${name}`);
  const citus = citusUrl !== undefined && sameServer(adminUrl, citusUrl);
  const workers = citus ? await citusWorkers(adminUrl) : [];
  const nodes = [adminUrl, ...workers.map((w) => w.url)];
  for (const node of nodes) {
    await onServer(node, (c) => c.query(`CREATE DATABASE ${name}`));
    if (citus) await onServer(withDatabase(node, name), (c) => c.query(`CREATE EXTENSION citus`));
  }
  if (citus) {
    const coordinator = new URL(adminUrl);
    await onServer(withDatabase(adminUrl, name), async (c) => {
      await c.query(`SELECT citus_set_coordinator_host($1, $2)`, [coordinator.hostname, Number(coordinator.port || 5432)]);
      for (const w of workers) await c.query(`SELECT citus_add_node($1, $2)`, [w.host, w.port]);
    });
  }
  return {
    url: withDatabase(adminUrl, name),
    drop: async () => {
      for (const node of nodes) await onServer(node, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
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
  let appClosed: Promise<void> | undefined;
  const closeApp = () => (appClosed ??= app.close());
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
    closeApp,
    async close() {
      await closeApp();
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
