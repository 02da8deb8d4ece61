import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsOptional, IsString, IsUUID, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { CursorParam, LimitParam, OptionalEnum, OptionalJson, OptionalJsonObject, OptionalTimestamp, PageDtoOf } from '../common/dto-helpers.js';
import { JsonField } from '../common/dto-helpers.js';
import { PreviewJsonField, PreviewObjectField, TruncatedField } from '../common/preview.js';
import { CLIENT_STATUSES, RUN_STATUSES, STEP_TYPES } from '../domain/vocabulary.js';
import { ErrorInfoDto } from '../runs/runs.dto.js';
import { EXAMPLE } from '../common/examples.js';
import { ScoreDto } from '../scores/scores.dto.js';
import { LlmFieldsDto, LlmFieldsInputDto } from './llm-fields.dto.js';

const MAX_COUNT = 2_000_000_000;

/** The LLM fields (model, provider, modelParameters, usage, costUsd, timeToFirstTokenMs) come from LlmFieldsInputDto. */
export class CreateStepDto extends LlmFieldsInputDto {
  @ApiPropertyOptional({
    description: 'Client-chosen UUID. Creating a step whose id already exists in the run updates the fields sent and answers 200.',
    format: 'uuid',
    example: EXAMPLE.stepId,
  })
  @IsOptional()
  @IsUUID('all')
  id?: string;

  @ApiPropertyOptional({ description: 'The enclosing step, for nested steps. Must belong to the same run.', format: 'uuid', example: EXAMPLE.parentStepId })
  @IsOptional()
  @IsUUID('all')
  parentStepId?: string;

  @ApiProperty({
    description: 'Step name, e.g. `filter-by-price`. Steps with the same name are compared across runs.',
    maxLength: 200,
    example: EXAMPLE.stepName,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @OptionalEnum(STEP_TYPES, 'Kind of step (default `custom`).', EXAMPLE.stepType)
  type?: (typeof STEP_TYPES)[number];

  @OptionalEnum(CLIENT_STATUSES, 'Initial status (default `running`).', 'running')
  status?: (typeof CLIENT_STATUSES)[number];

  @OptionalJson('What the step was given.', EXAMPLE.stepInput)
  input?: unknown;

  @OptionalJson('What the step produced.', EXAMPLE.stepOutput)
  output?: unknown;

  @ApiPropertyOptional({ description: 'Why the step decided what it did.', maxLength: 100_000, example: EXAMPLE.reasoning })
  @IsOptional()
  @IsString()
  @MaxLength(100_000)
  reasoning?: string;

  @OptionalJsonObject('Free-form key/value context (merged on update).', EXAMPLE.stepMetadata)
  metadata?: Record<string, unknown>;

  @OptionalTimestamp('When the step started (default: now).', EXAMPLE.startedAt)
  startedAt?: string;
}

export class UpdateStepDto extends LlmFieldsInputDto {
  @OptionalEnum(CLIENT_STATUSES, 'New status. `success`, `error` and `cancelled` end the step and set `endedAt` to now unless given.', 'success')
  status?: (typeof CLIENT_STATUSES)[number];

  @OptionalJson('What the step produced.', EXAMPLE.stepOutput)
  output?: unknown;

  @ApiPropertyOptional({ type: ErrorInfoDto, description: 'Why the step failed.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ErrorInfoDto)
  error?: ErrorInfoDto;

  @ApiPropertyOptional({ description: 'Why the step decided what it did.', maxLength: 100_000, example: EXAMPLE.reasoning })
  @IsOptional()
  @IsString()
  @MaxLength(100_000)
  reasoning?: string;

  @OptionalJsonObject('Keys to merge into the step’s metadata.', { sampled: true })
  metadata?: Record<string, unknown>;

  @OptionalTimestamp('When the step ended.', EXAMPLE.endedAt)
  endedAt?: string;

  @ApiPropertyOptional({
    description: 'True number of candidates the step considered, when only a sample was stored.',
    type: 'integer',
    minimum: 0,
    example: 5000,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_COUNT)
  candidatesIn?: number;

  @ApiPropertyOptional({ description: 'True number of candidates the step kept (accepted or selected).', type: 'integer', minimum: 0, example: 412 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_COUNT)
  candidatesOut?: number;
}

/** A step; the LLM fields (null on other steps) come from LlmFieldsDto. */
export class StepDto extends LlmFieldsDto {
  @ApiProperty({ format: 'uuid', description: 'Step id.', example: EXAMPLE.stepId })
  id: string;

  @ApiProperty({ format: 'uuid', description: 'The run this step belongs to.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The enclosing step; null for top-level steps.', example: null })
  parentStepId: string | null;

  @ApiProperty({ description: 'Step name.', example: EXAMPLE.stepName })
  name: string;

  @ApiProperty({ enum: STEP_TYPES, description: 'Kind of step.', example: EXAMPLE.stepType })
  type: string;

  @ApiProperty({ description: 'Order among its siblings, from 0.', type: 'integer', example: 2 })
  position: number;

  @ApiProperty({ enum: RUN_STATUSES, description: 'Step status.', example: 'success' })
  status: string;

  @JsonField('What the step was given (any JSON value).', EXAMPLE.stepInput)
  input: unknown;

  @JsonField('What the step produced (any JSON value).', EXAMPLE.stepOutput)
  output: unknown;

  @ApiProperty({ type: ErrorInfoDto, nullable: true, description: 'Why the step failed, if it did.', example: null })
  error: ErrorInfoDto | null;

  @ApiProperty({ nullable: true, type: String, description: 'Why the step decided what it did.', example: EXAMPLE.reasoning })
  reasoning: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Free-form key/value context.', example: EXAMPLE.stepMetadata })
  metadata: Record<string, unknown>;

  @ApiProperty({ format: 'date-time', description: 'When the step started.', example: EXAMPLE.startedAt })
  startedAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the step ended; null while running.', example: EXAMPLE.endedAt })
  endedAt: string | null;

  @ApiProperty({ nullable: true, type: Number, description: 'endedAt − startedAt in milliseconds; null while running.', example: 180 })
  durationMs: number | null;

  @ApiProperty({ type: 'integer', description: 'Candidates considered: the reported total, else the number stored.', example: 5000 })
  candidatesIn: number;

  @ApiProperty({ type: 'integer', description: 'Candidates kept: the reported total, else those stored as accepted or selected.', example: 412 })
  candidatesOut: number;

  @ApiProperty({ nullable: true, type: Number, description: '1 − candidatesOut / candidatesIn; null when candidatesIn is 0.', example: 0.9176 })
  eliminationRatio: number | null;

  @ApiProperty({ type: 'integer', description: 'Candidates actually stored for this step (may be a sample).', example: 612 })
  candidatesStored: number;
}

/** A step in full with its own scores (getStep). */
export class StepDetailDto extends StepDto {
  @ApiProperty({ type: [ScoreDto], description: 'The step’s own scores (not its candidates’; `listScores?stepId=` lists both), oldest first.' })
  scores: ScoreDto[];
}

/** The JSON fields of a step that list answers and step trees bound to previews. */
export const STEP_PREVIEW_FIELDS = ['input', 'output', 'metadata'] as const;
export type StepPreviewField = (typeof STEP_PREVIEW_FIELDS)[number];

/** A step in a list or a tree: its JSON fields bounded to previews (`getStep` answers them in full). */
export class StepListItemDto extends OmitType(StepDto, ['input', 'output', 'metadata'] as const) {
  @PreviewJsonField('What the step was given (any JSON value).', { maxPrice: 50 })
  input: unknown;

  @PreviewJsonField('What the step produced (any JSON value).', { kept: 412, dropped: 4588 })
  output: unknown;

  @PreviewObjectField('Free-form key/value context.', { model: 'gpt-4o-mini', temperature: 0.2 })
  metadata: Record<string, unknown> | string;

  @TruncatedField(STEP_PREVIEW_FIELDS, ['input'])
  truncated: StepPreviewField[];
}

export class StepNodeDto extends StepListItemDto {
  @ApiProperty({ type: [ScoreDto], description: 'The step’s own scores (not its candidates’), oldest first.' })
  scores: ScoreDto[];

  @ApiProperty({ type: () => [StepNodeDto], description: 'Child steps in order, nested to any depth.', example: [] })
  children: StepNodeDto[];
}

export class ListRunStepsQueryDto {
  @LimitParam(2000, 500, 500)
  limit?: number;

  @CursorParam('WyIyMDI2LTExLTMwVDIxOjA0OjEyLjM0NVoiLCIwMTkzZjJhNC02YzFlLTdiM2EtOWYyZC01ZThjMWE3YjRkMjEiXQ')
  cursor?: string;
}

export class StepPageDto extends PageDtoOf(
  StepListItemDto,
  'StepPageDto',
  'This page of the run’s steps, flat, in order of (startedAt, id); nest them with `parentStepId` and `position`. JSON fields as bounded previews (see `truncated`).',
  {
    description: 'Pass as `cursor` for the next page; null on the last page.',
    required: true,
    example: 'WyIyMDI2LTExLTMwVDIxOjA0OjEyLjM0NVoiLCIwMTkzZjJhNC02YzFlLTdiM2EtOWYyZC01ZThjMWE3YjRkMjEiXQ',
  },
) {}
