import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { CandidateInputDto } from '../candidates/candidates.dto.js';
import { ANY_JSON, CursorParam, OptionalTimestamp } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { RawJson } from '../common/validation.js';
import { RUN_STATUSES, STEP_TYPES } from '../domain/vocabulary.js';
import { ErrorInfoDto } from '../runs/runs.dto.js';
import { LlmFieldsInputDto } from '../steps/llm-fields.dto.js';

/**
 * The NDJSON export format, one JSON object per line, each with a `type`: a `run` line, then
 * that run's `step` lines (a parent before its children) each followed by its `candidates`
 * lines, then a `run-end` line with the cursor to resume after that run; an `end` line closes
 * the export. The same classes validate the lines an import reads.
 */

const MAX_COUNT = 2_000_000_000;
const STRICT_ISO = { strict: true, strictSeparator: true } as const;

const JsonValue = (description: string, example: unknown) => ApiProperty({ description, ...ANY_JSON, example } as never);

export class ExportQueryDto {
  @ApiPropertyOptional({ description: 'Only runs of this pipeline.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipeline?: string;

  @OptionalTimestamp('Only runs started at or after this time.')
  from?: string;

  @OptionalTimestamp('Only runs started before this time.')
  to?: string;

  @CursorParam('WyIyMDI2LTExLTMwVDA5OjE1OjAwLjAwMFoiLCIwMTkzYTJjNC01YjEwLTdjMmQtOGU0Zi02YTdiOGM5ZDBlMTEiXQ')
  cursor?: string;

  @ApiPropertyOptional({
    description: 'At most this many runs in this answer (default: all); the `end` line then carries `nextCursor` when more are left.',
    type: 'integer',
    minimum: 1,
    maximum: 1_000_000,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  limit?: number;
}

/** A run, every field in full (as getRun answers it, without the server's own times). */
export class ExportRunDto {
  @ApiProperty({ format: 'uuid', description: 'Run id (kept on import).', example: EXAMPLE.runId })
  @IsUUID('all')
  id: string;

  @ApiProperty({ description: 'Pipeline name.', maxLength: 200, example: EXAMPLE.pipeline })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  pipeline: string;

  @ApiProperty({ nullable: true, type: String, maxLength: 200, description: 'Pipeline version.', example: EXAMPLE.pipelineVersion })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  pipelineVersion: string | null;

  @ApiProperty({ enum: RUN_STATUSES, description: 'Run status.', example: 'success' })
  @IsIn(RUN_STATUSES as unknown as string[], { message: `status must be one of: ${RUN_STATUSES.join(', ')}` })
  status: (typeof RUN_STATUSES)[number];

  @JsonValue('What the run was given.', EXAMPLE.runInput)
  @IsOptional()
  @RawJson()
  input: unknown;

  @JsonValue('What the run produced.', EXAMPLE.runOutput)
  @IsOptional()
  @RawJson()
  output: unknown;

  @ApiProperty({ type: ErrorInfoDto, nullable: true, description: 'Why the run failed.', example: null })
  @IsOptional()
  @ValidateNested()
  @Type(() => ErrorInfoDto)
  error: ErrorInfoDto | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Metadata.', example: EXAMPLE.metadata })
  @IsObject()
  @RawJson()
  metadata: Record<string, unknown>;

  @ApiProperty({ type: [String], description: 'Tags.', example: EXAMPLE.tags })
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  tags: string[];

  @ApiProperty({ format: 'date-time', description: 'When the run started.', example: EXAMPLE.startedAt })
  @IsISO8601(STRICT_ISO)
  startedAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the run ended; null while running.', example: EXAMPLE.endedAt })
  @IsOptional()
  @IsISO8601(STRICT_ISO)
  endedAt: string | null;
}

/** A step, every field in full. */
/** A step as exported; an LLM step's fields (model, usage, costUsd, …) are present when set, and its cost is kept as a sent cost on import. */
export class ExportStepDto extends LlmFieldsInputDto {
  @ApiProperty({ format: 'uuid', description: 'Step id (kept on import).', example: EXAMPLE.stepId })
  @IsUUID('all')
  id: string;

  @ApiProperty({ format: 'uuid', description: 'The run it belongs to: the one of the last `run` line.', example: EXAMPLE.runId })
  @IsUUID('all')
  runId: string;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The enclosing step (on an earlier line); null at the top.',
    example: EXAMPLE.parentStepId,
  })
  @IsOptional()
  @IsUUID('all')
  parentStepId: string | null;

  @ApiProperty({ description: 'Step name.', maxLength: 200, example: EXAMPLE.stepName })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiProperty({ enum: STEP_TYPES, description: 'Kind of step.', example: EXAMPLE.stepType })
  @IsIn(STEP_TYPES as unknown as string[], { message: `type must be one of: ${STEP_TYPES.join(', ')}` })
  type: (typeof STEP_TYPES)[number];

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Order among its siblings, from 0.', example: 0 })
  @IsInt()
  @Min(0)
  @Max(MAX_COUNT)
  position: number;

  @ApiProperty({ enum: RUN_STATUSES, description: 'Step status.', example: 'success' })
  @IsIn(RUN_STATUSES as unknown as string[], { message: `status must be one of: ${RUN_STATUSES.join(', ')}` })
  status: (typeof RUN_STATUSES)[number];

  @JsonValue('What the step was given.', EXAMPLE.stepInput)
  @IsOptional()
  @RawJson()
  input: unknown;

  @JsonValue('What the step produced.', EXAMPLE.stepOutput)
  @IsOptional()
  @RawJson()
  output: unknown;

  @ApiProperty({ type: ErrorInfoDto, nullable: true, description: 'Why the step failed.', example: null })
  @IsOptional()
  @ValidateNested()
  @Type(() => ErrorInfoDto)
  error: ErrorInfoDto | null;

  @ApiProperty({ nullable: true, type: String, maxLength: 100_000, description: 'Why the step decided what it did.', example: EXAMPLE.reasoning })
  @IsOptional()
  @IsString()
  @MaxLength(100_000)
  reasoning: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Metadata.', example: EXAMPLE.stepMetadata })
  @IsObject()
  @RawJson()
  metadata: Record<string, unknown>;

  @ApiProperty({ format: 'date-time', description: 'When the step started.', example: EXAMPLE.startedAt })
  @IsISO8601(STRICT_ISO)
  startedAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the step ended; null while running.', example: EXAMPLE.endedAt })
  @IsOptional()
  @IsISO8601(STRICT_ISO)
  endedAt: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'The count of candidates considered the client reported, if it did.', example: 5000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_COUNT)
  reportedIn: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'The count of candidates kept the client reported, if it did.', example: 412 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_COUNT)
  reportedOut: number | null;
}

export class ExportRunLineDto {
  @ApiProperty({ enum: ['run'], description: 'Line type.', example: 'run' })
  type: 'run';

  @ApiProperty({ type: ExportRunDto, description: 'The run.' })
  run: ExportRunDto;
}

/** A step of the run of the last `run` line; its parent is on an earlier line. */
export class ExportStepLineDto {
  @ApiProperty({ enum: ['step'], description: 'Line type.', example: 'step' })
  type: 'step';

  @ApiProperty({ type: ExportStepDto, description: 'The step.' })
  step: ExportStepDto;
}

/** A candidate as exported: the fields it was sent with and when it was stored. */
export class ExportCandidateDto extends CandidateInputDto {
  @ApiProperty({ format: 'date-time', description: 'When the candidate was stored (kept on import).', example: EXAMPLE.createdAt })
  createdAt: string;
}

/** Up to 1,000 candidates of the step on an earlier line. */
export class ExportCandidatesLineDto {
  @ApiProperty({ enum: ['candidates'], description: 'Line type.', example: 'candidates' })
  type: 'candidates';

  @ApiProperty({ format: 'uuid', description: 'The run.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({ format: 'uuid', description: 'The step.', example: EXAMPLE.stepId })
  stepId: string;

  @ApiProperty({ type: [ExportCandidateDto], description: 'At most 1,000 candidates, in key order.' })
  candidates: ExportCandidateDto[];
}

/** Closes a run: everything of the run is on the lines before. */
export class ExportRunEndLineDto {
  @ApiProperty({ enum: ['run-end'], description: 'Line type.', example: 'run-end' })
  type: 'run-end';

  @ApiProperty({ format: 'uuid', description: 'The run just closed.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({ type: 'integer', description: 'How many steps the run has.', example: 8 })
  steps: number;

  @ApiProperty({ type: 'integer', description: 'How many candidates its steps have.', example: 5000 })
  candidates: number;

  @ApiProperty({
    description: 'Pass as `cursor` (with the same filters) to export the runs after this one, e.g. after a broken connection.',
    example: 'WyIyMDI2LTExLTMwVDA5OjE1OjAwLjAwMFoiLCIwMTkzYTJjNC01YjEwLTdjMmQtOGU0Zi02YTdiOGM5ZDBlMTEiXQ',
  })
  cursor: string;
}

/** The last line of a complete export; an answer without it was cut short. */
export class ExportEndLineDto {
  @ApiProperty({ enum: ['end'], description: 'Line type.', example: 'end' })
  type: 'end';

  @ApiProperty({ type: 'integer', description: 'Runs in this answer.', example: 120 })
  runs: number;

  @ApiProperty({ type: 'integer', description: 'Steps in this answer.', example: 960 })
  steps: number;

  @ApiProperty({ type: 'integer', description: 'Candidates in this answer.', example: 240000 })
  candidates: number;

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'With `limit`: the cursor for the rest when runs are left; null when the export is complete.',
    example: null,
  })
  nextCursor: string | null;
}

export type ExportLine = ExportRunLineDto | ExportStepLineDto | ExportCandidatesLineDto | ExportRunEndLineDto | ExportEndLineDto;

export class ImportResultDto {
  @ApiProperty({ type: 'integer', description: 'Runs read and stored (already stored ones included: an import is idempotent).', example: 120 })
  runs: number;

  @ApiProperty({ type: 'integer', description: 'Steps read and stored.', example: 960 })
  steps: number;

  @ApiProperty({ type: 'integer', description: 'Candidates read and stored.', example: 240000 })
  candidates: number;
}
