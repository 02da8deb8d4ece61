import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { Periodic } from '../common/periodic.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { query, sql } from '../database/sql.js';
import { Metrics } from '../metrics/metrics.service.js';
import { RunsService } from '../runs/runs.service.js';
import { StepsService } from '../steps/steps.service.js';
import { Retention, type RetentionReport } from './retention.js';

/** Only one API process sweeps at a time; the others skip that round. */
const SWEEP_LOCK = 0x7872_7377;

/**
 * Marks runs still `running` past XRAY_RUN_TIMEOUT as `timed_out`, with their open steps, purges
 * expired rate-limit counters, then keeps the day partitions ahead and applies retention
 * (maintenance/retention.ts: old days' data, ingest event ids past the dedupe window). Each
 * table's statement is its owner's; this class only schedules them. Safe with several API
 * processes: the round runs under a transaction-scoped advisory lock and its updates are idempotent.
 */
@Injectable()
export class RunTimeoutSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Sweeper');
  private readonly periodic = new Periodic('Sweep', this.logger);

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly runs: RunsService,
    private readonly steps: StepsService,
    private readonly apiKeys: ApiKeysService,
    private readonly retention: Retention,
  ) {}

  onApplicationBootstrap(): void {
    this.periodic.start(this.config.sweepIntervalMs, () => this.sweepOnce());
  }

  onApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One round. Answers how many runs were timed out, or null when another process holds the lock. */
  async sweepOnce(): Promise<{ runs: number; steps: number; retention: RetentionReport } | null> {
    const counts = await this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await query<{ locked: boolean }>(manager, sql`SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK}) AS locked`);
      if (!locked) return null;
      const timedOut = await this.runs.timeOutStaleRuns(manager);
      const steps = await this.steps.timeOutOpenSteps(timedOut, manager);
      await this.apiKeys.purgeExpiredRateLimitCounters(manager);
      if (timedOut.length > 0) this.logger.log(`Marked ${timedOut.length} run(s) and ${steps} open step(s) as timed_out`);
      return { runs: timedOut.length, steps };
    });
    if (!counts) return null;
    // Partitions ahead and retention: each drop and delete in its own short transaction.
    const retention = await this.retention.apply();
    this.metrics.sweeperRan();
    return { ...counts, retention };
  }
}
