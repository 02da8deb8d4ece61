import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { Metrics } from '../metrics/metrics.service.js';

/** Only one API process sweeps at a time; the others skip that round. */
const SWEEP_LOCK = 0x7872_7377;

/**
 * Marks runs still `running` past XRAY_RUN_TIMEOUT as `timed_out`, with their open steps, and
 * forgets ingest event ids older than the dedupe window. Safe with several API processes: the
 * round runs under a transaction-scoped advisory lock and its updates are idempotent.
 */
@Injectable()
export class RunTimeoutSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Sweeper');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.sweepIntervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweepOnce()
        .catch((err) => this.logger.warn(`Sweep failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => (this.running = undefined));
    }, this.config.sweepIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round. Answers how many runs were timed out, or null when another process holds the lock. */
  async sweepOnce(): Promise<{ runs: number; steps: number } | null> {
    const counts = await this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [SWEEP_LOCK]);
      if (!locked) return null;
      const [counts] = await manager.query(
        `WITH stale AS (
           UPDATE runs SET status = 'timed_out', ended_at = GREATEST(now(), started_at), updated_at = now(),
                  error = COALESCE(error, jsonb_build_object('type', 'Timeout', 'message', 'Run was still running after ' || $1::text || ' ms'))
           WHERE status = 'running' AND started_at < now() - make_interval(secs => $1::double precision / 1000)
           RETURNING id
         ),
         open_steps AS (
           UPDATE steps SET status = 'timed_out', ended_at = GREATEST(now(), started_at), updated_at = now()
           WHERE run_id IN (SELECT id FROM stale) AND status = 'running'
           RETURNING id
         )
         SELECT (SELECT count(*) FROM stale)::int AS runs, (SELECT count(*) FROM open_steps)::int AS steps`,
        [this.config.runTimeoutMs],
      );
      await manager.query(`DELETE FROM rate_limit_counters WHERE window_start < now() - interval '2 minutes'`);
      await manager.query(`DELETE FROM ingest_events WHERE created_at < now() - make_interval(hours => $1)`, [this.config.ingestDedupeHours]);
      if (counts.runs > 0) this.logger.log(`Marked ${counts.runs} run(s) and ${counts.steps} open step(s) as timed_out`);
      return counts as { runs: number; steps: number };
    });
    if (counts) this.metrics.sweeperRan();
    return counts;
  }
}
