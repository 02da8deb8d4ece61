import { Module } from '@nestjs/common';
import { ScoreAnalyticsController } from './score-analytics.controller.js';
import { ScoreAnalyticsRepository } from './score-analytics.repository.js';
import { ScoreAnalyticsService } from './score-analytics.service.js';
import { ScoreReadsService } from './score-reads.service.js';
import { ScoresController } from './scores.controller.js';
import { ScoresRepository } from './scores.repository.js';
import { ScoresService } from './scores.service.js';

/** Scores (judgements of runs, steps and candidates) and per-project score configurations. */
@Module({
  controllers: [ScoreAnalyticsController, ScoresController],
  providers: [ScoresService, ScoreReadsService, ScoreAnalyticsService, ScoresRepository, ScoreAnalyticsRepository],
  exports: [ScoresService, ScoreReadsService, ScoreAnalyticsService],
})
export class ScoresModule {}
