import { Module } from '@nestjs/common';
import { CandidatesModule } from '../candidates/candidates.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { ScoresModule } from '../scores/scores.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { AnalyticsController } from './analytics.controller.js';
import { AnalyticsRepository } from './analytics.repository.js';
import { AnalyticsService } from './analytics.service.js';

@Module({
  imports: [RunsModule, StepsModule, CandidatesModule, ScoresModule],
  controllers: [AnalyticsController],
  providers: [AnalyticsService, AnalyticsRepository],
})
export class AnalyticsModule {}
