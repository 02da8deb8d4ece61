import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest/ingest.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { RunTimeoutSweeper } from './run-timeout.sweeper.js';

/** Periodic housekeeping across modules; each statement belongs to the module that owns its table. */
@Module({ imports: [RunsModule, StepsModule, IngestModule], providers: [RunTimeoutSweeper], exports: [RunTimeoutSweeper] })
export class MaintenanceModule {}
