import { Module } from '@nestjs/common';
import { StepsModule } from '../steps/steps.module.js';
import { PipelinesController } from './pipelines.controller.js';
import { PipelinesService } from './pipelines.service.js';
import { RunTimeoutSweeper } from './run-timeout.sweeper.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';

@Module({
  imports: [StepsModule],
  controllers: [RunsController, PipelinesController],
  providers: [RunsService, PipelinesService, RunTimeoutSweeper],
  exports: [RunsService, RunTimeoutSweeper],
})
export class RunsModule {}
