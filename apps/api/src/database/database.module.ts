import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, MigrationExecutor } from 'typeorm';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { createDataSource, QUERY_TIMEOUT_MARGIN_MS } from './data-source.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { citusInstalled } from './citus.js';
import { DayPartitions } from './partitions.js';

/** Holds the embedded server (when used) so shutdown can stop it after the pool closes. */
export class DatabaseHandle {
  readonly partitions: DayPartitions;
  /**
   * Whether bulk loads may use COPY FROM STDIN: PostgreSQL serves it; the embedded server's
   * socket does not carry the COPY sub-protocol, so there every write is a statement.
   */
  readonly copyIn: boolean;

  constructor(
    readonly dataSource: DataSource,
    readonly embedded: EmbeddedPostgres | undefined,
    /** Whether the database is a Citus coordinator (see database/citus.ts). */
    readonly citus = false,
  ) {
    this.partitions = new DayPartitions(dataSource);
    this.copyIn = embedded === undefined;
  }
}

function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/**
 * Applies pending migrations on a connection of their own, without the requests' statement
 * timeout: a migration may rightly take minutes (moving rows to partitions, distributing a
 * table on a Citus cluster, waiting for a lock held by a running server).
 */
async function migrate(url: string, logger: Logger): Promise<void> {
  const migrator = createDataSource({ url, poolSize: 1 });
  await migrator.initialize();
  try {
    // Say so before the work starts: on a large database a migration can take a while.
    const pending = await new MigrationExecutor(migrator).getPendingMigrations();
    if (pending.length === 0) {
      logger.log(`Schema is up to date (${migrator.migrations.length} migrations)`);
      return;
    }
    const started = Date.now();
    logger.log(`Applying ${pending.length} migration(s): ${pending.map((m) => m.name).join(', ')}`);
    const applied = await migrator.runMigrations({ transaction: 'each' });
    logger.log(`Applied ${applied.length} migration(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await migrator.destroy();
  }
}

async function connect(config: AppConfig): Promise<DatabaseHandle> {
  const logger = new Logger('Database');
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (url) {
    logger.log(`Storage: PostgreSQL at ${describeUrl(url)} (DATABASE_URL)`);
  } else {
    embedded = await EmbeddedPostgres.start(config.dataDir);
    url = embedded.url;
    logger.log(`Storage: embedded PostgreSQL (PGlite), data in ${embedded.location}, served on ${describeUrl(url)}`);
  }
  // PGlite runs one query at a time; a small pool avoids queueing many idle connections.
  const poolSize = embedded ? Math.min(config.dbPoolSize, 4) : config.dbPoolSize;
  // A real server that hangs cannot time its statements out: the client stops waiting a little
  // after the statement timeout. (Not for the embedded database, which runs in this process.)
  const queryTimeoutMs = !embedded && config.statementTimeoutMs > 0 ? config.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS : undefined;
  const dataSource = createDataSource({ url, poolSize, statementTimeoutMs: config.statementTimeoutMs, queryTimeoutMs });
  try {
    if (config.migrate) await migrate(url, logger);
    await dataSource.initialize();
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw err;
  }
  const citus = !embedded && (await citusInstalled(dataSource));
  if (citus) logger.log('The database is a Citus coordinator: runs, steps, candidates and the other high-volume tables are distributed by project');
  const handle = new DatabaseHandle(dataSource, embedded, citus);
  // The days' partitions before the first request (the sweeper keeps a week ahead after that).
  await handle.partitions.ensureAhead(new Date()).catch((err: Error) => logger.warn(`Could not create the day partitions ahead: ${err.message}`));
  return handle;
}

@Global()
@Module({
  providers: [
    { provide: DatabaseHandle, inject: [APP_CONFIG], useFactory: connect },
    { provide: DataSource, inject: [DatabaseHandle], useFactory: (handle: DatabaseHandle) => handle.dataSource },
    { provide: DayPartitions, inject: [DatabaseHandle], useFactory: (handle: DatabaseHandle) => handle.partitions },
  ],
  exports: [DataSource, DatabaseHandle, DayPartitions],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DatabaseHandle) private readonly handle: DatabaseHandle) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.handle.dataSource.isInitialized) await this.handle.dataSource.destroy();
    await this.handle.embedded?.stop();
  }
}
