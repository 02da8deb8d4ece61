import { Module } from '@nestjs/common';
import { PipelinesController } from './pipelines.controller.js';
import { PipelinesService } from './pipelines.service.js';
import { RunsController } from './runs.controller.js';
import { RunsRepository } from './runs.repository.js';
import { RunsService } from './runs.service.js';

/** Runs depend on no other feature: steps build on runs (the step tree of getRun lives there). */
@Module({
  controllers: [RunsController, PipelinesController],
  providers: [RunsService, RunsRepository, PipelinesService],
  exports: [RunsService, RunsRepository],
})
export class RunsModule {}
