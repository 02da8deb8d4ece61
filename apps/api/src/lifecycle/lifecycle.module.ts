import { Module } from '@nestjs/common';
import { ProjectsModule } from '../projects/projects.module.js';
import { StepsModule } from '../steps/steps.module.js';
import { DeletionController } from './deletion.controller.js';
import { DeletionRepository } from './deletion.repository.js';
import { DeletionService, InterruptedDeletions } from './deletion.service.js';
import { RetentionJob } from './retention.job.js';

/**
 * Data lifecycle: deleting runs, erasing candidate keys, per-project retention, the deletion
 * log. The tombstone checks the create paths run are SQL fragments in tombstones.ts, used by the
 * runs and candidates repositories.
 */
@Module({
  imports: [StepsModule, ProjectsModule],
  controllers: [DeletionController],
  providers: [DeletionService, DeletionRepository, RetentionJob, InterruptedDeletions],
  exports: [DeletionService, RetentionJob],
})
export class LifecycleModule {}
