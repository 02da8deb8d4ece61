import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { RunDto } from '../runs/runs.dto.js';
import { ScoreDto } from '../scores/scores.dto.js';
import { StepNodeDto } from './steps.dto.js';

export const DEFAULT_STEP_LIMIT = 1000;
export const MAX_STEP_LIMIT = 5000;

export class GetRunQueryDto {
  @ApiPropertyOptional({
    description:
      `Most steps the tree holds, 1–${MAX_STEP_LIMIT} (default ${DEFAULT_STEP_LIMIT}): the earliest by (startedAt, id), each with all its ancestors. ` +
      'A step whose ancestors started after it (clock skew) brings them in early and they count against the limit; the first step that no longer fits with its missing ancestors ends the tree. ' +
      'When `stepsTruncated` is true, `listRunSteps` pages through every step.',
    minimum: 1,
    maximum: MAX_STEP_LIMIT,
    default: DEFAULT_STEP_LIMIT,
    type: 'integer',
    example: 200,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_STEP_LIMIT)
  stepLimit?: number;
}

export class RunDetailDto extends RunDto {
  @ApiProperty({
    type: [ScoreDto],
    description: 'The run’s own scores, oldest first (each step of `steps` carries its own; `listScores?runId=` lists all, candidates’ included).',
  })
  scores: ScoreDto[];

  @ApiProperty({
    type: [StepNodeDto],
    description:
      'Top-level steps in order, each with its children nested to any depth: at most `stepLimit` steps (see `stepsTruncated`), their JSON fields as bounded previews (see each step’s `truncated`; `getStep` answers a step in full).',
  })
  steps: StepNodeDto[];

  @ApiProperty({ type: 'integer', description: 'How many steps the run has, in the tree or not.', example: 1240 })
  stepCount: number;

  @ApiProperty({
    description: 'True when the tree holds fewer steps than the run has (`stepLimit` reached); `listRunSteps` pages through all of them.',
    example: true,
  })
  stepsTruncated: boolean;
}
