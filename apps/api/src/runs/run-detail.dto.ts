import { ApiProperty } from '@nestjs/swagger';
import { StepNodeDto } from '../steps/steps.dto.js';
import { RunDto } from './runs.dto.js';

export class RunDetailDto extends RunDto {
  @ApiProperty({ type: [StepNodeDto], description: 'Top-level steps in order, each with its children nested to any depth.' })
  steps: StepNodeDto[];
}
