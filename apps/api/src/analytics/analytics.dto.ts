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
import { CursorParam, LimitParam, OptionalEnum, OptionalTimestamp } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { RunDto } from '../runs/runs.dto.js';
import { STEP_PREVIEW_FIELDS, type StepPreviewField } from '../steps/steps.dto.js';

const Ratio = (description: string) => [
  ApiPropertyOptional({ description, minimum: 0, maximum: 1, type: Number }),
  IsOptional(),
  Type(() => Number),
  IsNumber({ allowNaN: false, allowInfinity: false }),
  Min(0),
  Max(1),
];
const apply = (decorators: PropertyDecorator[]): PropertyDecorator => (t, k) => decorators.forEach((d) => d(t, k));

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

  @OptionalTimestamp('Only steps started at or after this time.')
  from?: string;

  @OptionalTimestamp('Only steps started before this time.')
  to?: string;

  @LimitParam(200, 50)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

export class StepSearchItemDto {
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

export class StepSearchPageDto {
  @ApiProperty({ type: [StepSearchItemDto], description: 'Matching steps, newest first.' })
  items: StepSearchItemDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page.', example: null })
  nextCursor: string | null;
}

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
}

export class CandidateEvaluationPageDto {
  @ApiProperty({ type: [CandidateEvaluationDto], description: 'Evaluations of the item, newest first.' })
  items: CandidateEvaluationDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page.', example: null })
  nextCursor: string | null;
}

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
  @ApiProperty({ type: [String], description: 'Keys kept (accepted or selected) in the first run and rejected in the second (at most 1000).', example: ['B0KICK5'] })
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

export class PipelineAnalyticsQueryDto {
  @OptionalTimestamp('Start of the range (default: 7 days before `to`).')
  from?: string;

  @OptionalTimestamp('End of the range (default: now).')
  to?: string;
}

export class StatusCountsDto {
  @ApiProperty({ type: 'integer', description: 'Runs still running.', example: 2 })
  running: number;

  @ApiProperty({ type: 'integer', description: 'Runs that succeeded.', example: 131 })
  success: number;

  @ApiProperty({ type: 'integer', description: 'Runs that failed.', example: 6 })
  error: number;

  @ApiProperty({ type: 'integer', description: 'Runs cancelled.', example: 1 })
  cancelled: number;

  @ApiProperty({ type: 'integer', description: 'Runs marked timed out by the server.', example: 0 })
  timed_out: number;
}

export class RunStatsDto {
  @ApiProperty({ type: 'integer', description: 'Runs started in the range.', example: 140 })
  total: number;

  @ApiProperty({ type: StatusCountsDto, description: 'Runs by status.' })
  byStatus: StatusCountsDto;

  @ApiProperty({ nullable: true, type: Number, description: 'Failed (error or timed out) / finished runs; null when none finished.', example: 0.0432 })
  errorRate: number | null;
}

export class StepStatsDto {
  @ApiProperty({ description: 'Step name.', example: EXAMPLE.stepName })
  name: string;

  @ApiProperty({ type: 'integer', description: 'Steps with this name in the range.', example: 140 })
  count: number;

  @ApiProperty({ nullable: true, type: Number, description: 'Failed / finished steps with this name.', example: 0.01 })
  errorRate: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Median duration in milliseconds (from a histogram with 10%-wide buckets: within 10% of the exact value).', example: 170 })
  p50DurationMs: number | null;

  @ApiProperty({ nullable: true, type: Number, description: '95th percentile duration in milliseconds (within 10% of the exact value).', example: 420 })
  p95DurationMs: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Mean elimination ratio over steps that had candidates.', example: 0.9 })
  meanEliminationRatio: number | null;
}

export class ReasonStatDto {
  @ApiProperty({ description: 'Rejection reason.', example: EXAMPLE.reason })
  reason: string;

  @ApiProperty({ type: 'integer', description: 'Rejected candidates with this reason.', example: 4588 })
  count: number;
}

export class StepReasonsDto {
  @ApiProperty({ description: 'Filter step name.', example: EXAMPLE.stepName })
  stepName: string;

  @ApiProperty({ type: [ReasonStatDto], description: 'Top 10 rejection reasons, most frequent first.', example: [{ reason: EXAMPLE.reason, count: 4588 }] })
  reasons: ReasonStatDto[];
}

export class TimePointDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket.', example: '2026-11-30T09:00:00.000Z' })
  start: string;

  @ApiProperty({ type: 'integer', description: 'Runs started in the bucket.', example: 12 })
  runs: number;

  @ApiProperty({ type: 'integer', description: 'Of those, runs that ended in error or timed out.', example: 1 })
  errors: number;
}

export class TimeSeriesDto {
  @ApiProperty({ enum: ['hour', 'day'], description: 'Bucket size: hours for ranges up to 2 days, days beyond.', example: 'hour' })
  bucket: 'hour' | 'day';

  @ApiProperty({ type: [TimePointDto], description: 'Every bucket of the range, empty ones included.', example: [{ start: '2026-11-30T09:00:00.000Z', runs: 12, errors: 1 }] })
  points: TimePointDto[];
}

export class PipelineAnalyticsDto {
  @ApiProperty({ description: 'The pipeline.', example: EXAMPLE.pipeline })
  pipeline: string;

  @ApiProperty({ format: 'date-time', description: 'Start of the range.', example: '2026-11-23T09:00:00.000Z' })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'End of the range.', example: '2026-11-30T09:00:00.000Z' })
  to: string;

  @ApiProperty({ type: RunStatsDto, description: 'Runs started in the range.', example: 12 })
  runs: RunStatsDto;

  @ApiProperty({ type: [StepStatsDto], description: 'Per step name, most frequent first; steps counted by the hour they started, the range widened to whole hours.' })
  steps: StepStatsDto[];

  @ApiProperty({ type: [StepReasonsDto], description: 'Top rejection reasons of each filter step.' })
  topRejectionReasons: StepReasonsDto[];

  @ApiProperty({ type: TimeSeriesDto, description: 'Runs and errors over time.' })
  timeSeries: TimeSeriesDto;
}
