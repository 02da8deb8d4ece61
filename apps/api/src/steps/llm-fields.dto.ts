import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsNumber, IsObject, IsString, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { OptionalNotNull } from '../common/dto-helpers.js';
import { RawJson } from '../common/validation.js';

/** Token counts are stored as 32-bit integers per step (runs sum them in 64 bits). */
export const MAX_TOKENS = 2_000_000_000;
/** A step's cost in USD is at most this (a bound against typos, far above any single call). */
export const MAX_COST_USD = 1_000_000;

const TokenCount = (description: string, example: number) =>
  applyDecorators(
    ApiPropertyOptional({ description, type: 'integer', minimum: 0, maximum: MAX_TOKENS, example }),
    OptionalNotNull(),
    IsInt(),
    Min(0),
    Max(MAX_TOKENS),
  );

/** Token usage of one model call, as the provider reported it. */
export class TokenUsageInputDto {
  @TokenCount('Prompt (input) tokens, cached ones included.', 1200)
  input?: number;

  @TokenCount('Completion (output) tokens, reasoning ones included.', 340)
  output?: number;

  @TokenCount('All tokens; `input + output` when not sent.', 1540)
  total?: number;

  @TokenCount('Input tokens read from the provider’s prompt cache (part of `input`).', 1024)
  cacheRead?: number;

  @TokenCount('Input tokens written to the provider’s prompt cache (part of `input`).', 0)
  cacheWrite?: number;

  @TokenCount('Reasoning tokens (part of `output`).', 0)
  reasoning?: number;
}

/**
 * The LLM fields a step create or update may carry. Each is written when sent; `usage` replaces
 * the stored usage as a whole.
 */
export class LlmFieldsInputDto {
  @ApiPropertyOptional({ description: 'The model that answered, e.g. `gpt-4o-mini-2024-07-18`.', maxLength: 200, example: 'gpt-4o-mini' })
  @OptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  model?: string;

  @ApiPropertyOptional({ description: 'Who served it, e.g. `openai`, `anthropic`, `aws.bedrock`.', maxLength: 100, example: 'openai' })
  @OptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  provider?: string;

  @ApiPropertyOptional({
    description: 'The request’s parameters (temperature, max tokens, top p, …), as a JSON object.',
    type: 'object',
    additionalProperties: true,
    example: { temperature: 0.2, maxTokens: 512 },
  })
  @OptionalNotNull()
  @IsObject()
  @RawJson()
  modelParameters?: Record<string, unknown>;

  @ApiPropertyOptional({ type: TokenUsageInputDto, description: 'Token usage (replaces the stored usage as a whole).' })
  @OptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => TokenUsageInputDto)
  usage?: TokenUsageInputDto;

  @ApiPropertyOptional({
    description: 'What the call cost, in USD. When sent it is kept as is; when not, the cost is computed from the project’s model prices (`/v1/model-prices`).',
    minimum: 0,
    maximum: MAX_COST_USD,
    example: 0.00042,
  })
  @OptionalNotNull()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(MAX_COST_USD)
  costUsd?: number;

  @ApiPropertyOptional({ description: 'Milliseconds from the request to the first streamed token.', minimum: 0, maximum: 86_400_000, example: 180 })
  @OptionalNotNull()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(86_400_000)
  timeToFirstTokenMs?: number;
}

export const LLM_INPUT_KEYS = ['model', 'provider', 'modelParameters', 'usage', 'costUsd', 'timeToFirstTokenMs'] as const;

/** Token usage as stored: null where not reported. */
export class TokenUsageDto {
  @ApiProperty({ type: 'integer', nullable: true, description: 'Input tokens (cached ones included).', example: 1200 })
  input: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Output tokens (reasoning ones included).', example: 340 })
  output: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'All tokens: as reported, else input + output.', example: 1540 })
  total: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Input tokens read from the prompt cache.', example: 1024 })
  cacheRead: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Input tokens written to the prompt cache.', example: null })
  cacheWrite: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Reasoning tokens.', example: null })
  reasoning: number | null;
}

/** The model price a computed cost used, as it was when the cost was computed. */
export class PriceUsedDto {
  @ApiProperty({
    format: 'uuid',
    description: 'The model price’s id (it may since have been replaced or deleted).',
    example: '0193a2c3-9e10-7b21-8c32-d43e54f65a17',
  })
  id: string;

  @ApiProperty({ description: 'Its model-name pattern.', example: 'gpt-4o-mini*' })
  modelPattern: string;

  @ApiProperty({ description: 'USD per million input tokens.', example: 0.15 })
  inputPerMillion: number;

  @ApiProperty({ description: 'USD per million output tokens.', example: 0.6 })
  outputPerMillion: number;

  @ApiProperty({ nullable: true, type: Number, description: 'USD per million cache-read input tokens (null: the input price).', example: 0.075 })
  cacheReadPerMillion: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'USD per million cache-write input tokens (null: the input price).', example: null })
  cacheWritePerMillion: number | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'From when the price applied.', example: null })
  validFrom: string | null;
}

/** The LLM fields of a step in answers: all null on steps that are not model calls. */
export class LlmFieldsDto {
  @ApiProperty({ nullable: true, type: String, description: 'The model that answered.', example: 'gpt-4o-mini' })
  model: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'Who served it.', example: 'openai' })
  provider: string | null;

  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true, description: 'The request’s parameters.', example: { temperature: 0.2 } })
  modelParameters: Record<string, unknown> | null;

  @ApiProperty({ type: TokenUsageDto, nullable: true, description: 'Token usage; null when none was reported.' })
  usage: TokenUsageDto | null;

  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Cost in USD: sent by the client, or computed from a model price (see `costSource`).',
    example: 0.00042,
  })
  costUsd: number | null;

  @ApiProperty({
    nullable: true,
    enum: ['client', 'price'],
    type: String,
    description: '`client`: sent with the step; `price`: computed at ingest from `costPrice`; null: no cost.',
    example: 'price',
  })
  costSource: 'client' | 'price' | null;

  @ApiProperty({ type: PriceUsedDto, nullable: true, description: 'The model price a computed cost used, as it was then.' })
  costPrice: PriceUsedDto | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Milliseconds to the first streamed token.', example: 180 })
  timeToFirstTokenMs: number | null;
}
