import { Module } from '@nestjs/common';
import { CandidatesModule } from '../candidates/candidates.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { ScoresModule } from '../scores/scores.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { IngestController } from './ingest.controller.js';
import { IngestRepository } from './ingest.repository.js';
import { IngestService } from './ingest.service.js';
import { IngestWriter } from './ingest.writer.js';

@Module({
  imports: [RunsModule, StepsModule, CandidatesModule, ScoresModule],
  controllers: [IngestController],
  providers: [IngestService, IngestWriter, IngestRepository],
  exports: [IngestWriter, IngestRepository],
})
export class IngestModule {}
