import { ApiProperty } from '@nestjs/swagger';
import { RUN_STATUSES } from '../domain/vocabulary.js';
import { EXAMPLE } from '../common/examples.js';
import { RunDto } from '../runs/runs.dto.js';

export class ValuePairDto {
  @ApiProperty({ nullable: true, description: 'Value in the first run.', oneOf: [{ type: 'string' }, { type: 'number' }], example: 3 })
  left: string | number | null;

  @ApiProperty({ nullable: true, description: 'Value in the second run.', oneOf: [{ type: 'string' }, { type: 'number' }], example: 4 })
  right: string | number | null;
}

export class StepSideDto {
  @ApiProperty({ format: 'uuid', description: 'Step id.', example: EXAMPLE.stepId })
  id: string;

  @ApiProperty({ enum: RUN_STATUSES, description: 'Step status.', example: 'success' })
  status: string;

  @ApiProperty({ nullable: true, type: Number, description: 'Duration in milliseconds.', example: 180 })
  durationMs: number | null;

  @ApiProperty({ type: 'integer', description: 'Candidates considered.', example: 5000 })
  candidatesIn: number;

  @ApiProperty({ type: 'integer', description: 'Candidates kept.', example: 412 })
  candidatesOut: number;

  @ApiProperty({ nullable: true, type: Number, description: 'Elimination ratio.', example: 0.9176 })
  eliminationRatio: number | null;
}

export class CandidateFlipsDto {
  @ApiProperty({
    type: [String],
    description: 'Keys kept (accepted or selected) in the first run and rejected in the second (at most 1000).',
    example: ['B0KICK5'],
  })
  keptLeftRejectedRight: string[];

  @ApiProperty({ type: [String], description: 'Keys kept in the second run and rejected in the first (at most 1000).', example: [] })
  keptRightRejectedLeft: string[];

  @ApiProperty({ type: 'integer', description: 'Total number of keys kept in the first and rejected in the second.', example: 1 })
  keptLeftRejectedRightCount: number;

  @ApiProperty({ type: 'integer', description: 'Total number of keys kept in the second and rejected in the first.', example: 0 })
  keptRightRejectedLeftCount: number;
}

export class StepComparisonDto {
  @ApiProperty({
    type: [String],
    description: 'Step names from the root; a repeated sibling name gets `#2`, `#3`… so each path is unique.',
    example: ['filter', 'category-filter'],
  })
  path: string[];

  @ApiProperty({ type: StepSideDto, nullable: true, description: 'The step in the first run, if it has one at this path.' })
  left: StepSideDto | null;

  @ApiProperty({ type: StepSideDto, nullable: true, description: 'The step in the second run, if it has one at this path.' })
  right: StepSideDto | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/ValuePairDto' },
    description: 'Fields that differ (`status`, `durationMs`, `candidatesIn`, `candidatesOut`), each with both values.',
    example: { candidatesOut: { left: 3, right: 4 } },
  })
  differences: Record<string, ValuePairDto>;

  @ApiProperty({ type: CandidateFlipsDto, nullable: true, description: 'Candidate keys decided differently; null unless both sides stored candidates.' })
  candidates: CandidateFlipsDto | null;
}

export class RunComparisonDto {
  @ApiProperty({ type: RunDto, description: 'The first run.' })
  left: RunDto;

  @ApiProperty({ type: RunDto, description: 'The second run.' })
  right: RunDto;

  @ApiProperty({ type: [StepComparisonDto], description: 'Steps aligned by path, in the first run’s order, then steps only the second has.' })
  steps: StepComparisonDto[];
}
