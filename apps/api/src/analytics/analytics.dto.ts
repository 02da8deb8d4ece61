import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsNotEmpty, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DECISIONS, RUN_STATUSES, STEP_TYPES } from '../domain/vocabulary.js';
import {
  CANDIDATE_DATA_EXAMPLE,
  CANDIDATE_PREVIEW_FIELDS,
  type CandidatePreviewField,
  EVALUATIONS_EXAMPLE,
  EvaluationDto,
} from '../candidates/candidates.dto.js';
import { PreviewEvaluationsField, PreviewJsonField, PreviewObjectField, TruncatedField } from '../common/preview.js';
import { CursorParam, LimitParam, OptionalEnum, OptionalTimestamp, PageDtoOf } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { ScoreFilterParam } from '../scores/score-filter.js';
import { ScoreDto } from '../scores/scores.dto.js';
import { STEP_PREVIEW_FIELDS, type StepPreviewField } from '../steps/steps.dto.js';
import { LlmFieldsDto } from '../steps/llm-fields.dto.js';

const Ratio = (description: string) => [
  ApiPropertyOptional({ description, minimum: 0, maximum: 1, type: Number }),
  IsOptional(),
  Type(() => Number),
  IsNumber({ allowNaN: false, allowInfinity: false }),
  Min(0),
  Max(1),
];
const apply =
  (decorators: PropertyDecorator[]): PropertyDecorator =>
  (t, k) =>
    decorators.forEach((d) => d(t, k));

export class SearchStepsQueryDto {
  @ApiPropertyOptional({ description: 'Only steps with exactly this name, e.g. `filter-by-price`.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @OptionalEnum(STEP_TYPES, 'Only steps of this type.')
  type?: (typeof STEP_TYPES)[number];

  @OptionalEnum(RUN_STATUSES, 'Only steps with this status.')
  status?: (typeof RUN_STATUSES)[number];

  @ApiPropertyOptional({ description: 'Only steps of runs of this pipeline, e.g. `competitor-selection`.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipeline?: string;

  @ApiPropertyOptional({ description: 'Only model calls of exactly this model, e.g. `gpt-4o-mini`.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  model?: string;

  @apply(Ratio('Only steps that eliminated at least this share of their candidates (0–1), e.g. 0.9.'))
  minEliminationRatio?: number;

  @apply(Ratio('Only steps that eliminated at most this share of their candidates (0–1).'))
  maxEliminationRatio?: number;

  @ApiPropertyOptional({ description: 'Only steps that took at least this many milliseconds.', minimum: 0, type: Number })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  minDurationMs?: number;

  @ScoreFilterParam('the step’s own scores (not its candidates’)')
  score?: Record<string, string>;

  @OptionalTimestamp('Only steps started at or after this time.')
  from?: string;

  @OptionalTimestamp('Only steps started before this time.')
  to?: string;

  @LimitParam(200, 50)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

/** A step found by a search; the LLM fields (null on other steps) come from LlmFieldsDto. */
export class StepSearchItemDto extends LlmFieldsDto {
  @ApiProperty({ format: 'uuid', description: 'Step id.', example: EXAMPLE.stepId })
  id: string;

  @ApiProperty({ format: 'uuid', description: 'The run it belongs to.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({ description: 'The run’s pipeline.', example: EXAMPLE.pipeline })
  pipeline: string;

  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'Enclosing step, if nested.', example: null })
  parentStepId: string | null;

  @ApiProperty({ description: 'Step name.', example: EXAMPLE.stepName })
  name: string;

  @ApiProperty({ enum: STEP_TYPES, description: 'Kind of step.', example: EXAMPLE.stepType })
  type: string;

  @ApiProperty({ enum: RUN_STATUSES, description: 'Step status.', example: 'success' })
  status: string;

  @ApiProperty({ format: 'date-time', description: 'When the step started.', example: EXAMPLE.startedAt })
  startedAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the step ended.', example: EXAMPLE.endedAt })
  endedAt: string | null;

  @ApiProperty({ nullable: true, type: Number, description: 'How long it took, in milliseconds.', example: 180 })
  durationMs: number | null;

  @ApiProperty({ type: 'integer', description: 'Candidates considered.', example: 5000 })
  candidatesIn: number;

  @ApiProperty({ type: 'integer', description: 'Candidates kept.', example: 412 })
  candidatesOut: number;

  @ApiProperty({ nullable: true, type: Number, description: '1 − candidatesOut / candidatesIn; null when nothing came in.', example: 0.9176 })
  eliminationRatio: number | null;

  @PreviewJsonField('What the step was given (any JSON value).', { maxPrice: 50 })
  input: unknown;

  @PreviewJsonField('What the step produced (any JSON value).', { kept: 412, dropped: 4588 })
  output: unknown;

  @PreviewObjectField('Free-form key/value context.', { model: 'gpt-4o-mini', temperature: 0.2 })
  metadata: Record<string, unknown> | string;

  @TruncatedField(STEP_PREVIEW_FIELDS, ['output'])
  truncated: StepPreviewField[];
}

export class StepSearchPageDto extends PageDtoOf(StepSearchItemDto, 'StepSearchPageDto', 'Matching steps, newest first.') {}

export class SearchCandidatesQueryDto {
  @ApiProperty({ description: 'The item’s key (e.g. a product id): every evaluation of it across runs.', maxLength: 500, example: EXAMPLE.candidateKey })
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  key: string;

  @ApiPropertyOptional({ description: 'Only evaluations in runs of this pipeline.', maxLength: 200, example: EXAMPLE.pipeline })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipeline?: string;

  @OptionalEnum(DECISIONS, 'Only evaluations with this decision.')
  decision?: (typeof DECISIONS)[number];

  @OptionalTimestamp('Only evaluations recorded at or after this time.')
  from?: string;

  @OptionalTimestamp('Only evaluations recorded before this time.')
  to?: string;

  @LimitParam(1000, 100)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

export class CandidateEvaluationDto {
  @ApiProperty({ format: 'uuid', description: 'The run.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({ format: 'uuid', description: 'The step that evaluated the item.', example: EXAMPLE.stepId })
  stepId: string;

  @ApiProperty({ description: 'That step’s name.', example: 'category-filter' })
  stepName: string;

  @ApiProperty({ description: 'The run’s pipeline.', example: EXAMPLE.pipeline })
  pipeline: string;

  @ApiProperty({ description: 'The item’s key.', example: EXAMPLE.candidateKey })
  key: string;

  @ApiProperty({ enum: DECISIONS, description: 'What the step decided.', example: 'rejected' })
  decision: string;

  @ApiProperty({ nullable: true, type: String, description: 'Why.', example: EXAMPLE.reason })
  reason: string | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Score the step gave it.', example: 0.42 })
  score: number | null;

  @ApiProperty({ nullable: true, type: 'integer', description: 'Rank the step gave it.', example: 17 })
  rank: number | null;

  @PreviewEvaluationsField(EvaluationDto, EVALUATIONS_EXAMPLE)
  evaluations: EvaluationDto[] | string | null;

  @PreviewJsonField('The item itself (any JSON value), as this step recorded it.', CANDIDATE_DATA_EXAMPLE)
  data: unknown;

  @ApiProperty({ format: 'date-time', description: 'When it was recorded.', example: EXAMPLE.createdAt })
  createdAt: string;

  @TruncatedField(CANDIDATE_PREVIEW_FIELDS, ['data'])
  truncated: CandidatePreviewField[];

  @ApiProperty({ type: [ScoreDto], description: 'Scores of this evaluation (the candidate of this step and key), oldest first.' })
  scores: ScoreDto[];
}

export class CandidateEvaluationPageDto extends PageDtoOf(CandidateEvaluationDto, 'CandidateEvaluationPageDto', 'Evaluations of the item, newest first.') {}
