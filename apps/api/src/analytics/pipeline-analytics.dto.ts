import { ApiProperty } from '@nestjs/swagger';
import { OptionalTimestamp } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { ScoreSeriesDto } from '../scores/score-analytics.dto.js';
import { TimeBucketDto } from './time-bucket.dto.js';

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

  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Median duration in milliseconds (from a histogram with 10%-wide buckets: within 10% of the exact value).',
    example: 170,
  })
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

export class TimePointDto extends TimeBucketDto {
  @ApiProperty({ type: 'integer', description: 'Runs started in the bucket.', example: 12 })
  runs: number;

  @ApiProperty({ type: 'integer', description: 'Of those, runs that ended in error or timed out.', example: 1 })
  errors: number;

  @ApiProperty({ type: StatusCountsDto, description: 'Runs started in the bucket, by their status now.' })
  byStatus: StatusCountsDto;
}

export class TimeSeriesDto {
  @ApiProperty({ enum: ['hour', 'day'], description: 'Bucket size: hours for ranges up to 2 days, days beyond.', example: 'hour' })
  bucket: 'hour' | 'day';

  @ApiProperty({
    type: [TimePointDto],
    description: 'Every bucket of the range, empty ones included.',
    example: [{ start: '2026-11-30T09:00:00.000Z', runs: 12, errors: 1, byStatus: { running: 1, success: 10, error: 1, cancelled: 0, timed_out: 0 } }],
  })
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

  @ApiProperty({
    type: [StepStatsDto],
    description: 'Per step name, most frequent first; steps counted by the hour they started, the range widened to whole hours.',
  })
  steps: StepStatsDto[];

  @ApiProperty({ type: [StepReasonsDto], description: 'Top rejection reasons of each filter step.' })
  topRejectionReasons: StepReasonsDto[];

  @ApiProperty({ type: TimeSeriesDto, description: 'Runs and errors over time.' })
  timeSeries: TimeSeriesDto;

  @ApiProperty({
    type: [ScoreSeriesDto],
    description:
      'Each score name of the pipeline’s runs (run, step and candidate scores; the 50 most frequent) over the same buckets as `timeSeries`, by the scored runs’ start: the mean (numeric, or share of `true`) or label counts.',
  })
  scores: ScoreSeriesDto[];
}
