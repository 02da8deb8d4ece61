import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { OptionalTimestamp } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { TimeBucketDto } from './time-bucket.dto.js';

export class LlmAnalyticsQueryDto {
  @ApiPropertyOptional({ description: 'Only this pipeline (default: every pipeline of the project).', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipeline?: string;

  @OptionalTimestamp('Start of the range (default: 7 days before `to`).')
  from?: string;

  @OptionalTimestamp('End of the range (default: now).')
  to?: string;
}

/** Calls, tokens and cost of a group of LLM steps. */
export class LlmUsageDto {
  @ApiProperty({ type: 'integer', description: 'LLM steps (steps with a model, token usage or a cost).', example: 140 })
  calls: number;

  @ApiProperty({ type: 'integer', description: 'Input tokens.', example: 168000 })
  inputTokens: number;

  @ApiProperty({ type: 'integer', description: 'Output tokens.', example: 47600 })
  outputTokens: number;

  @ApiProperty({ type: 'integer', description: 'Total tokens.', example: 215600 })
  totalTokens: number;

  @ApiProperty({ type: 'integer', description: 'Input tokens read from a prompt cache.', example: 96000 })
  cacheReadTokens: number;

  @ApiProperty({ description: 'Cost in USD (sent or computed).', example: 0.0538 })
  costUsd: number;
}

export class LlmTimePointDto extends IntersectionType(LlmUsageDto, TimeBucketDto) {}

export class LlmPipelineUsageDto extends LlmUsageDto {
  @ApiProperty({ description: 'Pipeline.', example: EXAMPLE.pipeline })
  pipeline: string;
}

export class LlmStepUsageDto extends LlmUsageDto {
  @ApiProperty({ description: 'Pipeline.', example: EXAMPLE.pipeline })
  pipeline: string;

  @ApiProperty({ description: 'Step name.', example: 'generate-keywords' })
  name: string;
}

export class LlmModelUsageDto extends LlmUsageDto {
  @ApiProperty({ description: 'Model (`""` for steps with usage or cost but no model).', example: 'gpt-4o-mini' })
  model: string;

  @ApiProperty({ nullable: true, type: Number, description: 'Median duration of its finished calls, in ms (within 10% of the exact value).', example: 820 })
  p50DurationMs: number | null;

  @ApiProperty({ nullable: true, type: Number, description: '95th percentile duration in ms (within 10% of the exact value).', example: 2400 })
  p95DurationMs: number | null;
}

export class LlmAnalyticsDto {
  @ApiProperty({ nullable: true, type: String, description: 'The pipeline asked for; null: every pipeline.', example: EXAMPLE.pipeline })
  pipeline: string | null;

  @ApiProperty({ format: 'date-time', description: 'Start of the range.', example: '2026-11-23T09:00:00.000Z' })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'End of the range.', example: '2026-11-30T09:00:00.000Z' })
  to: string;

  @ApiProperty({ enum: ['hour', 'day'], description: 'Bucket size of `timeSeries`: hours for ranges up to 2 days, days beyond.', example: 'day' })
  bucket: 'hour' | 'day';

  @ApiProperty({ type: LlmUsageDto, description: 'Everything in the range.' })
  totals: LlmUsageDto;

  @ApiProperty({ type: [LlmTimePointDto], description: 'Every bucket of the range, empty ones included.' })
  timeSeries: LlmTimePointDto[];

  @ApiProperty({ type: [LlmPipelineUsageDto], description: 'Per pipeline, most expensive first (then most tokens).' })
  byPipeline: LlmPipelineUsageDto[];

  @ApiProperty({ type: [LlmStepUsageDto], description: 'Per pipeline and step name, most expensive first (at most 200).' })
  byStep: LlmStepUsageDto[];

  @ApiProperty({ type: [LlmModelUsageDto], description: 'Per model, most expensive first, with latency percentiles.' })
  byModel: LlmModelUsageDto[];
}
