import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { IngestModule } from '../ingest/ingest.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { OtlpGrpcServer } from './otlp-grpc.server.js';
import { OtlpController } from './otlp.controller.js';
import { OtlpService } from './otlp.service.js';

@Module({
  imports: [IngestModule, StepsModule, AuthModule],
  controllers: [OtlpController],
  providers: [OtlpService, OtlpGrpcServer],
})
export class OtlpModule {}
