import { Module } from '@nestjs/common';
import { CurrentProjectController, ProjectsController } from './projects.controller.js';
import { ProjectsRepository } from './projects.repository.js';
import { FirstStart, ProjectsService } from './projects.service.js';

@Module({
  controllers: [ProjectsController, CurrentProjectController],
  providers: [ProjectsService, ProjectsRepository, FirstStart],
  exports: [ProjectsService],
})
export class ProjectsModule {}
