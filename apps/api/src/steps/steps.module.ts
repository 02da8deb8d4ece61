import { Module } from '@nestjs/common';
import { StepTreeService } from './step-tree.service.js';
import { StepsController } from './steps.controller.js';
import { StepsService } from './steps.service.js';

@Module({ controllers: [StepsController], providers: [StepsService, StepTreeService], exports: [StepsService, StepTreeService] })
export class StepsModule {}
