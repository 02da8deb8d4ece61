import { Module } from '@nestjs/common';
import { StepsModule } from '../steps/steps.module.js';
import { RunTimeoutSweeper } from './run-timeout.sweeper.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';

@Module({ imports: [StepsModule], controllers: [RunsController], providers: [RunsService, RunTimeoutSweeper], exports: [RunsService, RunTimeoutSweeper] })
export class RunsModule {}
