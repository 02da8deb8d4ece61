import { Module } from '@nestjs/common';
import { AnalyticsModule } from './analytics/analytics.module.js';
import { AuthModule } from './auth/auth.module.js';
import { CandidatesModule } from './candidates/candidates.module.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { ExportModule } from './export/export.module.js';
import { HealthModule } from './health/health.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { OtlpModule } from './otlp/otlp.module.js';
import { LifecycleModule } from './lifecycle/lifecycle.module.js';
import { MaintenanceModule } from './maintenance/maintenance.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ModelPricesModule } from './model-prices/model-prices.module.js';
import { ProjectsModule } from './projects/projects.module.js';
import { RunsModule } from './runs/runs.module.js';
import { ScoresModule } from './scores/scores.module.js';
import { StepsModule } from './steps/steps.module.js';

@Module({
  imports: [
    ConfigModule,
    DatabaseModule,
    MetricsModule,
    AuthModule,
    ProjectsModule,
    RunsModule,
    StepsModule,
    CandidatesModule,
    IngestModule,
    OtlpModule,
    AnalyticsModule,
    ExportModule,
    HealthModule,
    MaintenanceModule,
    LifecycleModule,
    ScoresModule,
    ModelPricesModule,
  ],
})
export class AppModule {}
