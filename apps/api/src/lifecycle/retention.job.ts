import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Periodic } from '../common/periodic.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { ProjectsService } from '../projects/projects.service.js';
import { DeletionService, type Pace } from './deletion.service.js';

/** Retention deletes 200 runs per transaction and pauses between transactions, so ingest never waits long. */
export const RETENTION_PACE: Pace = { chunk: 200, pauseMs: 50 };

/**
 * Deletes, for each project that keeps its runs for less than the server (its `retentionDays`
 * below XRAY_RETENTION_DAYS, which maintenance/retention.ts applies to every project by dropping
 * whole days' partitions), the runs started before it, through the same deletion as the API (rollups follow, tombstones kept,
 * a `retention` entry in the deletion log). Runs every XRAY_SWEEP_INTERVAL; one round at a time.
 * Several API processes may run it together: each chunk skips runs another one holds.
 */
@Injectable()
export class RetentionJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly periodic = new Periodic('Retention', new Logger('Retention'));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly projects: ProjectsService,
    private readonly deletion: DeletionService,
  ) {}

  onApplicationBootstrap(): void {
    this.periodic.start(this.config.sweepIntervalMs, () => this.runOnce());
  }

  onApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One round over every project with a shorter retention. Answers the runs deleted per project (those with any). */
  async runOnce(pace: Pace = RETENTION_PACE): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    for (const { id, days } of await this.projects.listRetentionPolicies(this.config.retentionDays)) {
      const counts = await this.deletion.deleteExpiredRuns(id, days, pace);
      if (counts.runs > 0) deleted[id] = counts.runs;
    }
    return deleted;
  }
}
