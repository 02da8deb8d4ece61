import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ApiKey } from '../auth/api-key.entity.js';
import { Candidate } from '../candidates/candidate.entity.js';
import { IngestEvent } from '../ingest/ingest-event.entity.js';
import { Project } from '../projects/project.entity.js';
import { Run } from '../runs/run.entity.js';
import { Step } from '../steps/step.entity.js';
import { migrations } from './migrations/index.js';

export const entities = [Project, ApiKey, Run, Step, Candidate, IngestEvent];

export interface DataSourceSettings {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  /**
   * Client-side deadline per query (pg's `query_timeout`). For a database that hangs (a stalled
   * host, a network partition): PostgreSQL then cannot enforce its own statement timeout.
   */
  queryTimeoutMs?: number;
}

/** How much longer than the statement timeout the client waits before giving up on the server. */
export const QUERY_TIMEOUT_MARGIN_MS = 5000;

/**
 * A pg client that gives up on its connection when a query outlives the client-side deadline.
 * The server then did not even answer with its own statement timeout, so it (or the network)
 * hangs: the client is ended, which fails whatever else was queued on the connection at once
 * (a transaction's ROLLBACK, say) and makes the pool replace it, instead of handing a stuck
 * connection to the next request.
 */
export class DeadlineClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    (this as { query: unknown }).query = (...args: unknown[]) => {
      const result = query(...args);
      if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => {
          // end() marks the client as ending at once (so the pool discards it on release) and,
          // with a query still outstanding, destroys the socket rather than waiting for it.
          if ((err as Error)?.message === 'Query read timeout') this.end().catch(() => undefined);
        });
      }
      return result;
    };
  }
}

/** The one place DataSource options are built: the app, ormconfig.ts and tests all use it. */
export function dataSourceOptions(settings: DataSourceSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: settings.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      ...(settings.statementTimeoutMs ? { statement_timeout: settings.statementTimeoutMs } : {}),
      ...(settings.queryTimeoutMs ? { query_timeout: settings.queryTimeoutMs, Client: DeadlineClient } : {}),
      application_name: 'xray',
      // No JIT compilation: the API's statements are short, and across many partitions their
      // estimated cost passes jit_above_cost, so compiling them (~350 ms measured on a 90-day
      // database) took a hundred times longer than running them.
      options: '-c jit=off',
    },
  };
}

export function createDataSource(settings: DataSourceSettings): DataSource {
  return new DataSource(dataSourceOptions(settings));
}
