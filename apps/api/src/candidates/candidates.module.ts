import { Module } from '@nestjs/common';
import { ScoresModule } from '../scores/scores.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { CandidatesController } from './candidates.controller.js';
import { CandidatesRepository } from './candidates.repository.js';
import { CandidatesService } from './candidates.service.js';

@Module({
  imports: [StepsModule, ScoresModule],
  controllers: [CandidatesController],
  providers: [CandidatesService, CandidatesRepository],
  exports: [CandidatesService, CandidatesRepository],
})
export class CandidatesModule {}
