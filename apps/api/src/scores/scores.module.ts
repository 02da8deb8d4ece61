import { Module } from '@nestjs/common';
import { ScoresController } from './scores.controller.js';
import { ScoresRepository } from './scores.repository.js';
import { ScoresService } from './scores.service.js';

/** Scores (judgements of runs, steps and candidates) and per-project score configurations. */
@Module({
  controllers: [ScoresController],
  providers: [ScoresService, ScoresRepository],
  exports: [ScoresService],
})
export class ScoresModule {}
