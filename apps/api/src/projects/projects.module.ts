import { Module } from '@nestjs/common';
import { ProjectsController } from './projects.controller.js';
import { FirstStart, ProjectsService } from './projects.service.js';

@Module({ controllers: [ProjectsController], providers: [ProjectsService, FirstStart] })
export class ProjectsModule {}
