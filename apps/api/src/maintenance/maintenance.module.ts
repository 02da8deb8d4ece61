import { Module } from '@nestjs/common';
import { RunsModule } from '../runs/runs.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { Retention } from './retention.js';
import { RunTimeoutSweeper } from './run-timeout.sweeper.js';

/** Periodic housekeeping across modules; each statement belongs to the module that owns its table. */
@Module({ imports: [RunsModule, StepsModule], providers: [RunTimeoutSweeper, Retention], exports: [RunTimeoutSweeper, Retention] })
export class MaintenanceModule {}
