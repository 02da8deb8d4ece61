import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNumber, Min, ValidateBy, ArrayMaxSize, IsArray, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { CursorParam, LimitParam, OptionalEnum, OptionalJson, OptionalJsonObject, OptionalNotNull, OptionalTimestamp, ToArray } from '../common/dto-helpers.js';
import { JsonField, PageDtoOf } from '../common/dto-helpers.js';
import { PreviewJsonField, PreviewObjectField, TruncatedField } from '../common/preview.js';
import { RawJson } from '../common/validation.js';
import { EXAMPLE } from '../common/examples.js';
import { ScoreFilterParam } from '../scores/score-filter.js';
import { CLIENT_STATUSES, RUN_STATUSES } from '../domain/vocabulary.js';

/** The JSON fields of a run that list answers bound to previews. */
export const RUN_PREVIEW_FIELDS = ['input', 'output', 'metadata'] as const;

/** The orders a run listing may take (see ListRunsQueryDto.sort). */
export const RUN_SORTS = ['-startedAt', '-costUsd', 'costUsd', '-totalTokens', 'totalTokens'] as const;
export type RunPreviewField = (typeof RUN_PREVIEW_FIELDS)[number];

export class ErrorInfoDto {
  @ApiPropertyOptional({ description: 'Error class or category, e.g. `TimeoutError`.', maxLength: 200, example: EXAMPLE.error.type })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  type?: string;

  @ApiProperty({ description: 'What went wrong.', maxLength: 10_000, example: EXAMPLE.error.message })
  @IsString()
  @MaxLength(10_000)
  message: string;

  @ApiPropertyOptional({ description: 'Stack trace, if any.', maxLength: 100_000, example: EXAMPLE.error.stack })
  @IsOptional()
  @IsString()
  @MaxLength(100_000)
  stack?: string;
}

/** At most 10 `metadata.<key>` filters, string keys and values of bounded size. */
const IsMetadataFilter = () =>
  ValidateBy({
    name: 'isMetadataFilter',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length <= 10 &&
        Object.entries(value).every(([k, v]) => k.length > 0 && k.length <= 100 && typeof v === 'string' && v.length <= 500),
      defaultMessage: () => 'metadata filters are metadata.<key>=<value>, at most 10, each key and value given once',
    },
  });

const TagList = () =>
  applyDecorators(
    ApiPropertyOptional({ description: 'Labels for filtering runs (at most 50, each up to 100 characters).', type: [String], example: EXAMPLE.tags }),
    OptionalNotNull(),
    IsArray(),
    ArrayMaxSize(50),
    IsString({ each: true }),
    MaxLength(100, { each: true }),
  );

export class CreateRunDto {
  @ApiPropertyOptional({
    description: 'Client-chosen UUID. Creating a run whose id already exists in your project updates the fields sent and answers 200.',
    format: 'uuid',
    example: EXAMPLE.runId,
  })
  @IsOptional()
  @IsUUID('all')
  id?: string;

  @ApiProperty({ description: 'Pipeline name, e.g. `competitor-selection`.', maxLength: 200, example: EXAMPLE.pipeline })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  pipeline: string;

  @ApiPropertyOptional({ description: 'Version of the pipeline code or prompt set.', maxLength: 200, example: EXAMPLE.pipelineVersion })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipelineVersion?: string;

  @OptionalEnum(CLIENT_STATUSES, 'Initial status (default `running`). An ending status also sets `endedAt`.', 'running')
  status?: (typeof CLIENT_STATUSES)[number];

  @OptionalJson('What the run was given.', EXAMPLE.runInput)
  input?: unknown;

  @OptionalJson('What the run produced.', EXAMPLE.runOutput)
  output?: unknown;

  @OptionalJsonObject('Free-form key/value context (merged on update).', EXAMPLE.metadata)
  metadata?: Record<string, unknown>;

  @TagList()
  tags?: string[];

  @OptionalTimestamp('When the run started (default: now).', EXAMPLE.startedAt)
  startedAt?: string;
}

export class UpdateRunDto {
  @OptionalEnum(CLIENT_STATUSES, 'New status. `success`, `error` and `cancelled` end the run and set `endedAt` to now unless given.', 'success')
  status?: (typeof CLIENT_STATUSES)[number];

  @OptionalJson('What the run produced.', EXAMPLE.runOutput)
  output?: unknown;

  @ApiPropertyOptional({ type: ErrorInfoDto, description: 'Why the run failed.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ErrorInfoDto)
  error?: ErrorInfoDto;

  @OptionalJsonObject('Keys to merge into the run’s metadata.', { reviewed: 'false' })
  metadata?: Record<string, unknown>;

  @TagList()
  tags?: string[];

  @OptionalTimestamp('When the run ended.', EXAMPLE.endedAt)
  endedAt?: string;
}

export class ListRunsQueryDto {
  @ApiPropertyOptional({ description: 'Only runs of this pipeline.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipeline?: string;

  @OptionalEnum(RUN_STATUSES, 'Only runs with this status.')
  status?: (typeof RUN_STATUSES)[number];

  @ApiPropertyOptional({ description: 'Only runs carrying this tag; repeat to require several.', type: [String] })
  @IsOptional()
  @ToArray()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  tag?: string[];

  @ApiPropertyOptional({ description: 'Only runs that took at least this many milliseconds (finished runs only).', minimum: 0, type: Number })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  minDurationMs?: number;

  @ApiPropertyOptional({ description: 'Only runs whose `error.type` is exactly this.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  errorType?: string;

  @ApiPropertyOptional({
    description:
      'Metadata equality: `metadata[<key>]=<value>` or `metadata.<key>=<value>` (e.g. `?metadata[customer]=acme`); several keys must all match. ' +
      'Values compare as strings. In Swagger UI, type an object such as `{"customer": "acme"}`; `{}` filters nothing.',
    type: 'object',
    additionalProperties: { type: 'string' },
    style: 'deepObject',
    explode: true,
    example: {},
  } as never)
  @IsOptional()
  @IsMetadataFilter()
  @RawJson()
  metadata?: Record<string, string>;

  @ScoreFilterParam('the run’s own scores')
  score?: Record<string, string>;

  @ApiPropertyOptional({
    description: 'Text search over pipeline name, step names and error messages (whole words; the last word may be a prefix).',
    maxLength: 200,
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @OptionalTimestamp('Only runs started at or after this time.')
  from?: string;

  @OptionalTimestamp('Only runs started before this time.')
  to?: string;

  @ApiPropertyOptional({ description: 'Only runs whose steps cost at least this much in total, in USD.', minimum: 0, type: Number })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  minCostUsd?: number;

  @ApiPropertyOptional({ description: 'Only runs whose steps cost at most this much in total, in USD.', minimum: 0, type: Number })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  maxCostUsd?: number;

  @ApiPropertyOptional({ description: 'Only runs whose steps used at least this many tokens in total.', minimum: 0, type: 'integer' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  minTokens?: number;

  @OptionalEnum(
    RUN_SORTS,
    'Order: `-startedAt` (default, newest first), `-costUsd` / `costUsd` (most / least expensive first), `-totalTokens` / `totalTokens`; ties by id. ' +
      'A cursor belongs to the sort it was made with.',
  )
  sort?: (typeof RUN_SORTS)[number];

  @LimitParam(200, 50)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

export class RunDto {
  @ApiProperty({ format: 'uuid', description: 'Run id.', example: EXAMPLE.runId })
  id: string;

  @ApiProperty({ description: 'Pipeline name.', example: EXAMPLE.pipeline })
  pipeline: string;

  @ApiProperty({ nullable: true, type: String, description: 'Pipeline version, if given.', example: EXAMPLE.pipelineVersion })
  pipelineVersion: string | null;

  @ApiProperty({ enum: RUN_STATUSES, description: '`timed_out` is set by the server for runs left running too long.', example: 'success' })
  status: string;

  @JsonField('What the run was given (any JSON value).', EXAMPLE.runInput)
  input: unknown;

  @JsonField('What the run produced (any JSON value).', EXAMPLE.runOutput)
  output: unknown;

  @ApiProperty({ type: ErrorInfoDto, nullable: true, description: 'Why the run failed, if it did.', example: null })
  error: ErrorInfoDto | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Free-form key/value context.', example: EXAMPLE.metadata })
  metadata: Record<string, unknown>;

  @ApiProperty({ type: [String], description: 'Labels.', example: EXAMPLE.tags })
  tags: string[];

  @ApiProperty({ format: 'date-time', description: 'When the run started.', example: EXAMPLE.startedAt })
  startedAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the run ended; null while running.', example: EXAMPLE.endedAt })
  endedAt: string | null;

  @ApiProperty({ nullable: true, type: Number, description: 'endedAt − startedAt in milliseconds; null while running.', example: EXAMPLE.durationMs })
  durationMs: number | null;

  @ApiProperty({ format: 'date-time', description: 'When the server first stored the run.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'When the server last changed the run.', example: EXAMPLE.updatedAt })
  updatedAt: string;

  @ApiProperty({ type: 'integer', description: 'Input tokens of all its steps (0 when none reported usage).', example: 5400 })
  inputTokens: number;

  @ApiProperty({ type: 'integer', description: 'Output tokens of all its steps.', example: 610 })
  outputTokens: number;

  @ApiProperty({ type: 'integer', description: 'Total tokens of all its steps.', example: 6010 })
  totalTokens: number;

  @ApiProperty({ description: 'Cost of all its steps in USD (sent or computed; 0 when none has a cost).', example: 0.00117 })
  costUsd: number;
}

/** A run in a list: its JSON fields bounded to previews. */
export class RunListItemDto extends OmitType(RunDto, ['input', 'output', 'metadata'] as const) {
  @PreviewJsonField('What the run was given (any JSON value).', { title: 'Adjustable laptop stand', maxPrice: 50 })
  input: unknown;

  @PreviewJsonField('What the run produced (any JSON value).', { selected: 'B0AAA' })
  output: unknown;

  @PreviewObjectField('Free-form key/value context.', { region: 'eu', customer: 'acme' })
  metadata: Record<string, unknown> | string;

  @ApiProperty({ type: 'integer', description: 'How many steps the run has (nested ones included).', example: 8 })
  stepCount: number;

  @ApiProperty({
    type: 'integer',
    description: 'The most candidates any step of the run considered: how many entered its funnel (0 when no step had candidates).',
    example: 5000,
  })
  candidateCount: number;

  @TruncatedField(RUN_PREVIEW_FIELDS, ['output'])
  truncated: RunPreviewField[];
}

export class RunPageDto extends PageDtoOf(
  RunListItemDto,
  'RunPageDto',
  'This page of runs, newest first; JSON fields as bounded previews (see `truncated`).',
) {}
