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
      application_name: 'xray',
    },
  };
}

export function createDataSource(settings: DataSourceSettings): DataSource {
  return new DataSource(dataSourceOptions(settings));
}
