import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { addDays, DayPartitions, dayOf, dropDayPartitionsBefore, type PartitionedTable } from '../database/partitions.js';
import { deleteDailyRollupsBefore } from '../database/rollups.js';
import { RunsService } from '../runs/runs.service.js';

/** What one round of retention removed. */
export interface RetentionReport {
  /** Runs of days before this (UTC midnight) are gone; null when nothing is kept for a bounded time. */
  keptFrom: Date | null;
  partitionsDropped: number;
  runsDeleted: number;
  ingestPartitionsDropped: number;
}

/** The tables whose day partitions hold a day of runs' data (steps, candidates, scores and their hourly rollups). */
const RUN_DAY_TABLES: PartitionedTable[] = [
  'scores',
  'candidates',
  'steps',
  'step_stats_hourly',
  'step_durations_hourly',
  'reason_counts_hourly',
  'run_stats_hourly',
  'llm_usage_hourly',
  'model_durations_hourly',
  'score_rejections_hourly',
  'score_values_hourly',
];

/** Runs deleted per statement once their partitions are gone (one row each, no steps left to find). */
const RUN_CHUNK = 5_000;

/**
 * Keeps the partitions ahead and applies the server's retention (XRAY_RETENTION_DAYS), by whole
 * UTC days of the runs' start: a day leaves once all of it is older than the retention (so at
 * most retentionDays + 1 days are kept), its steps, candidates and hourly rollups by dropping
 * their partitions, then its runs and daily rollups by delete. Ingest event ids leave by
 * partition once their whole day is past the dedupe window. A project's shorter retention is
 * applied by deleting its runs (lifecycle module).
 */
@Injectable()
export class Retention {
  private readonly logger = new Logger('Retention');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly partitions: DayPartitions,
    private readonly runs: RunsService,
  ) {}

  async apply(now = new Date()): Promise<RetentionReport> {
    await this.partitions.ensureAhead(now);
    const transaction = (work: (tx: DataSource['manager']) => Promise<void>) => this.dataSource.transaction(work);
    const eventsBefore = dayOf(now.getTime() - this.config.ingestDedupeHours * 3_600_000);
    const ingest = await dropDayPartitionsBefore(this.dataSource, transaction, eventsBefore, ['ingest_events']);
    const report: RetentionReport = { keptFrom: null, partitionsDropped: 0, runsDeleted: 0, ingestPartitionsDropped: ingest.length };
    if (this.config.retentionDays === null) return report;

    const keptFrom = addDays(dayOf(now), -this.config.retentionDays);
    report.keptFrom = keptFrom;
    const dropped = await dropDayPartitionsBefore(this.dataSource, transaction, keptFrom, RUN_DAY_TABLES);
    for (const p of dropped) this.partitions.forget(p.day);
    report.partitionsDropped = dropped.length;
    for (let n = RUN_CHUNK; n === RUN_CHUNK;) {
      n = await this.runs.deleteRunsStartedBefore(keptFrom, RUN_CHUNK);
      report.runsDeleted += n;
    }
    await deleteDailyRollupsBefore(this.dataSource, keptFrom);
    if (report.partitionsDropped + report.runsDeleted > 0) {
      const days = [...new Set(dropped.map((p) => p.day.toISOString().slice(0, 10)))];
      this.logger.log(
        `Retention (${this.config.retentionDays} days, keeping runs from ${keptFrom.toISOString().slice(0, 10)}): ` +
          `dropped ${report.partitionsDropped} partition(s) of ${days.length} day(s)${days.length ? ` (${days[0]} … ${days[days.length - 1]})` : ''}, ` +
          `deleted ${report.runsDeleted} run(s)`,
      );
    }
    return report;
  }
}
