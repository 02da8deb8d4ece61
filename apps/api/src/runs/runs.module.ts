import { Module } from '@nestjs/common';
import { StepsModule } from '../steps/steps.module.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';

@Module({ imports: [StepsModule], controllers: [RunsController], providers: [RunsService], exports: [RunsService] })
export class RunsModule {}
