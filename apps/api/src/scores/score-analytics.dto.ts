import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsNotEmpty, IsNumber, IsOptional, IsString, MaxLength } from 'class-validator';
import { OptionalTimestamp } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { SCORE_DATA_TYPES, type ScoreDataType } from './scores.dto.js';

export const SCORE_TARGETS = ['run', 'step', 'candidate'] as const;
export type ScoreTarget = (typeof SCORE_TARGETS)[number];

export class ScoreSummaryQueryDto {
  @ApiPropertyOptional({ description: 'Only scores of runs of this pipeline.', maxLength: 200, example: EXAMPLE.pipeline })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipeline?: string;

  @ApiPropertyOptional({ description: 'Only scores with this name (default: every name, the 50 most frequent).', maxLength: 200, example: 'correct' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ enum: SCORE_TARGETS, description: 'Only scores of runs, of steps or of candidates (default: all).' })
  @IsOptional()
  @IsIn(SCORE_TARGETS as unknown as string[], { message: `$property must be one of: ${SCORE_TARGETS.join(', ')}` })
  target?: ScoreTarget;

  @OptionalTimestamp('Only scores of runs started at or after this time (default: 7 days before `to`).')
  from?: string;

  @OptionalTimestamp('Only scores of runs started before this time (default: now).')
  to?: string;
}

export class LabelCountDto {
  @ApiProperty({ description: 'A label (categorical) or `true`/`false` (boolean).', example: 'good' })
  label: string;

  @ApiProperty({ type: 'integer', description: 'Scores with it.', example: 31 })
  count: number;
}

export class HistogramBucketDto {
  @ApiProperty({ description: 'Lower bound (inclusive).', example: 0.5 })
  from: number;

  @ApiProperty({ description: 'Upper bound (exclusive, inclusive for the last bucket).', example: 0.6 })
  to: number;

  @ApiProperty({ type: 'integer', description: 'Scores in it.', example: 12 })
  count: number;
}

export class ScorePointDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket (by the start of the scored runs).', example: '2026-11-30T00:00:00.000Z' })
  start: string;

  @ApiProperty({ type: 'integer', description: 'Scores in the bucket.', example: 40 })
  count: number;

  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Mean value (numeric), or share of `true` (boolean); null for labels or an empty bucket.',
    example: 0.82,
  })
  mean: number | null;

  @ApiProperty({ type: [LabelCountDto], description: 'Counts per label (categorical) or per `true`/`false` (boolean); empty for numeric scores.', example: [] })
  labels: LabelCountDto[];
}

export class ScoreNameSummaryDto {
  @ApiProperty({ description: 'Score name.', example: 'correct' })
  name: string;

  @ApiProperty({ enum: SCORE_DATA_TYPES, description: 'The kind of value (a name scored with several kinds has one entry per kind).', example: 'boolean' })
  dataType: ScoreDataType;

  @ApiProperty({ type: 'integer', description: 'Scores.', example: 140 })
  count: number;

  @ApiProperty({ nullable: true, type: Number, description: 'Mean value (numeric), or share of `true` (boolean); null for labels.', example: 0.78 })
  mean: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Lowest value (numeric only).', example: null })
  min: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Highest value (numeric only).', example: null })
  max: number | null;

  @ApiProperty({
    type: [LabelCountDto],
    description: 'Distribution of a categorical or boolean score: counts per label, most frequent first.',
    example: [
      { label: 'true', count: 109 },
      { label: 'false', count: 31 },
    ],
  })
  labels: LabelCountDto[];

  @ApiProperty({
    type: [HistogramBucketDto],
    description: 'Distribution of a numeric score: 10 equal-width buckets from min to max (one when all are equal).',
    example: [],
  })
  histogram: HistogramBucketDto[];

  @ApiProperty({ type: [ScorePointDto], description: 'By UTC day of the scored runs’ start, days with scores only.' })
  byDay: ScorePointDto[];
}

export class ScoreSummaryDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the range.', example: '2026-11-23T00:00:00.000Z' })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'End of the range.', example: '2026-11-30T00:00:00.000Z' })
  to: string;

  @ApiProperty({ type: [ScoreNameSummaryDto], description: 'One entry per name (and kind of value), most scores first.' })
  items: ScoreNameSummaryDto[];
}

export class ScoreSeriesDto {
  @ApiProperty({ description: 'Score name.', example: 'correct' })
  name: string;

  @ApiProperty({ enum: SCORE_DATA_TYPES, description: 'The kind of value.', example: 'boolean' })
  dataType: ScoreDataType;

  @ApiProperty({ type: [ScorePointDto], description: 'One point per bucket of `timeSeries` (empty buckets included).' })
  points: ScorePointDto[];
}

export class ScoreRejectionsQueryDto {
  @ApiProperty({ description: 'The pipeline.', maxLength: 200, example: EXAMPLE.pipeline })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  pipeline: string;

  @ApiProperty({ description: 'The score name, scored on candidates.', maxLength: 200, example: 'correct' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({
    description:
      'A good score is this value: `true` or `false` for a boolean score, a label for a categorical one. Give `good` or `min`, not both; with neither, a good score is `true`.',
    maxLength: 200,
    example: 'true',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  good?: string;

  @ApiPropertyOptional({ description: 'A good score is a number at or above this (numeric scores), e.g. `0.8`. Give `good` or `min`, not both.', type: Number })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  min?: number;

  @OptionalTimestamp('Only runs started at or after this time (default: 7 days before `to`).')
  from?: string;

  @OptionalTimestamp('Only runs started before this time (default: now).')
  to?: string;
}

export class RejectionExampleDto {
  @ApiProperty({ format: 'uuid', description: 'The run.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({ format: 'uuid', description: 'The step that rejected the candidate.', example: EXAMPLE.stepId })
  stepId: string;

  @ApiProperty({ description: 'The candidate’s key.', example: EXAMPLE.candidateKey })
  key: string;
}

export class StepRejectionsDto {
  @ApiProperty({ description: 'Step name.', example: 'filter-by-category' })
  stepName: string;

  @ApiProperty({ type: 'integer', description: 'Candidates steps of this name rejected whose item carries a score of this name in that run.', example: 40 })
  rejected: number;

  @ApiProperty({ type: 'integer', description: 'Of those, the ones whose score is good.', example: 23 })
  rejectedGood: number;

  @ApiProperty({ description: 'rejectedGood / rejected.', example: 0.575 })
  share: number;

  @ApiProperty({
    type: [String],
    description:
      'Up to 5 keys of good items it rejected, most often rejected first, among the newest 50 or more of them (the newest whole hours of the range that hold that many).',
    example: ['B0STAND', 'B0RISER'],
  })
  exampleKeys: string[];

  @ApiProperty({ type: [RejectionExampleDto], description: 'Up to 5 such rejections (newest runs first), to open in the run view.' })
  examples: RejectionExampleDto[];
}

export class ScoreRejectionsDto {
  @ApiProperty({ description: 'The pipeline.', example: EXAMPLE.pipeline })
  pipeline: string;

  @ApiProperty({ description: 'The score name.', example: 'correct' })
  name: string;

  @ApiProperty({ nullable: true, type: String, description: 'The good value asked for, if any.', example: 'true' })
  good: string | null;

  @ApiProperty({ nullable: true, type: Number, description: 'The good threshold asked for, if any.', example: null })
  min: number | null;

  @ApiProperty({ format: 'date-time', description: 'Start of the range.', example: '2026-11-23T00:00:00.000Z' })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'End of the range.', example: '2026-11-30T00:00:00.000Z' })
  to: string;

  @ApiProperty({ type: 'integer', description: 'Items scored with this name (one per run and key; its latest score counts).', example: 120 })
  scoredItems: number;

  @ApiProperty({ type: 'integer', description: 'Of those, items whose score is good.', example: 70 })
  goodItems: number;

  @ApiProperty({ type: [StepRejectionsDto], description: 'Per step name that rejected scored items: most good items rejected first.' })
  steps: StepRejectionsDto[];
}
