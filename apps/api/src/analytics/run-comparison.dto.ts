import { ApiProperty } from '@nestjs/swagger';
import { RUN_STATUSES } from '../domain/vocabulary.js';
import { EXAMPLE } from '../common/examples.js';
import { RunDto } from '../runs/runs.dto.js';
import { SCORE_DATA_TYPES, type ScoreDataType } from '../scores/scores.dto.js';

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

export class ScoreSideDto {
  @ApiProperty({ enum: SCORE_DATA_TYPES, description: 'The kind of value.', example: 'numeric' })
  dataType: ScoreDataType;

  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'string' }], description: 'The latest score’s value.', example: 0.6 } as never)
  value: number | boolean | string;

  @ApiProperty({ type: 'integer', description: 'Scores of this name on this side (the latest one is shown).', example: 1 })
  count: number;
}

export class ScoreDifferenceDto {
  @ApiProperty({ description: 'Score name.', example: 'faithfulness' })
  name: string;

  @ApiProperty({ type: ScoreSideDto, nullable: true, description: 'In the first run (or its step); null when not scored with this name.' })
  left: ScoreSideDto | null;

  @ApiProperty({ type: ScoreSideDto, nullable: true, description: 'In the second run (or its step); null when not scored with this name.' })
  right: ScoreSideDto | null;

  @ApiProperty({ description: 'Whether the two sides differ (a value changed, or only one side has the score).', example: true })
  changed: boolean;

  @ApiProperty({ nullable: true, type: Number, description: 'right − left when both are numeric; null otherwise.', example: 0.3 })
  delta: number | null;
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

  @ApiProperty({ type: [ScoreDifferenceDto], description: 'The steps’ own scores by name (every name either side has), with what changed.' })
  scores: ScoreDifferenceDto[];
}

export class RunComparisonDto {
  @ApiProperty({ type: RunDto, description: 'The first run.' })
  left: RunDto;

  @ApiProperty({ type: RunDto, description: 'The second run.' })
  right: RunDto;

  @ApiProperty({ type: [ScoreDifferenceDto], description: 'The runs’ own scores by name (every name either run has), with what changed.' })
  scores: ScoreDifferenceDto[];

  @ApiProperty({ type: [StepComparisonDto], description: 'Steps aligned by path, in the first run’s order, then steps only the second has.' })
  steps: StepComparisonDto[];
}
