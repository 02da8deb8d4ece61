import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest/ingest.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { OtlpController } from './otlp.controller.js';
import { OtlpService } from './otlp.service.js';

@Module({
  imports: [IngestModule, StepsModule],
  controllers: [OtlpController],
  providers: [OtlpService],
})
export class OtlpModule {}
