import { Module } from '@nestjs/common';
import { RunsModule } from '../runs/runs.module.js';
import { ScoresModule } from '../scores/scores.module.js';
import { RunDetailController } from './run-detail.controller.js';
import { StepTreeService } from './step-tree.service.js';
import { StepsController } from './steps.controller.js';
import { StepsRepository } from './steps.repository.js';
import { StepsService } from './steps.service.js';

@Module({
  imports: [RunsModule, ScoresModule],
  controllers: [StepsController, RunDetailController],
  providers: [StepsService, StepTreeService, StepsRepository],
  exports: [StepsService, StepTreeService, StepsRepository],
})
export class StepsModule {}
