import { Module } from '@nestjs/common';
import { CandidatesModule } from '../candidates/candidates.module.js';
import { IngestModule } from '../ingest/ingest.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { ExportController } from './export.controller.js';
import { ExportRepository } from './export.repository.js';
import { ExportService } from './export.service.js';
import { ImportService } from './import.service.js';

/** Moving a project's runs between servers: NDJSON export, and import through the ingest writer. */
@Module({
  imports: [IngestModule, StepsModule, CandidatesModule],
  controllers: [ExportController],
  providers: [ExportService, ExportRepository, ImportService],
  exports: [ExportService, ImportService],
})
export class ExportModule {}
