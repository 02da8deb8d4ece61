import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { ApiProperty, ApiPropertyOptional, CursorParam, LimitParam, OptionalEnum, OptionalJsonObject, PageDtoOf } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';

export const SCORE_SOURCES = ['human', 'evaluator', 'api', 'sdk'] as const;
export const SCORE_DATA_TYPES = ['numeric', 'boolean', 'categorical'] as const;
export type ScoreSource = (typeof SCORE_SOURCES)[number];
export type ScoreDataType = (typeof SCORE_DATA_TYPES)[number];

/** Scores per batch request. */
export const MAX_SCORE_BATCH = 500;

/** A score's value: a finite number, a boolean, or a label of 1–200 characters. */
const IsScoreValue = () =>
  ValidateBy({
    name: 'isScoreValue',
    validator: {
      validate: (v: unknown) =>
        (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || (typeof v === 'string' && v.length > 0 && v.length <= 200),
      defaultMessage: () => '$property must be a finite number, a boolean, or a label of 1–200 characters',
    },
  });

const VALUE_SCHEMA = { oneOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'string', maxLength: 200 }] };

export class CreateScoreDto {
  @ApiPropertyOptional({
    format: 'uuid',
    description: 'The client’s id for the score: a retry with the same id answers the score already made instead of a second one. Generated when absent.',
    example: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a20',
  })
  @IsOptional()
  @IsUUID()
  id?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'The run judged (or the run of the step judged; may be left out when `stepId` is given).',
    example: EXAMPLE.runId,
  })
  @IsOptional()
  @IsUUID()
  runId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The step judged, or the step of the candidate judged.', example: EXAMPLE.stepId })
  @IsOptional()
  @IsUUID()
  stepId?: string;

  @ApiPropertyOptional({ description: 'The candidate judged (its key in the step `stepId`).', maxLength: 500, example: EXAMPLE.candidateKey })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  key?: string;

  @ApiProperty({ description: 'What is judged, e.g. `correct`, `faithfulness`, `user-feedback`.', maxLength: 200, example: 'correct' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiProperty({ ...VALUE_SCHEMA, description: 'A number, a boolean, or a label (categorical).', example: false } as never)
  @IsScoreValue()
  value: number | boolean | string;

  @ApiPropertyOptional({ description: 'Free text, e.g. why the decision was wrong.', maxLength: 4000, example: 'The phone case is not a competitor.' })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  comment?: string;

  @OptionalEnum(SCORE_SOURCES, 'Who scored: a person, an evaluator, an API client or the SDK (default `api`).', 'human')
  source?: ScoreSource;

  @ApiPropertyOptional({ description: 'Who scored (a user name, an evaluator’s name).', maxLength: 200, example: 'ana@example.com' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  author?: string;

  @OptionalJsonObject('Anything else about the score.', { widget: 'thumbs' })
  metadata?: Record<string, unknown>;
}

export class CreateScoresBatchDto {
  @ApiProperty({ type: [CreateScoreDto], description: `Up to ${MAX_SCORE_BATCH} scores, stored all or none.`, example: [] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_SCORE_BATCH)
  @ValidateNested({ each: true })
  @Type(() => CreateScoreDto)
  scores: CreateScoreDto[];
}

export class UpdateScoreDto {
  @ApiPropertyOptional({ ...VALUE_SCHEMA, description: 'The new value (same kinds as on create).', example: true } as never)
  @IsOptional()
  @IsScoreValue()
  value?: number | boolean | string;

  @ApiPropertyOptional({ description: 'The new comment.', maxLength: 4000, example: 'On second look it is fine.' })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  comment?: string;

  @OptionalJsonObject('The new metadata (replaces the old).', { reviewed: true })
  metadata?: Record<string, unknown>;
}

export class ScoreDto {
  @ApiProperty({ format: 'uuid', description: 'Score id (the client’s id when it gave one).', example: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a20' })
  id: string;

  @ApiProperty({ format: 'uuid', description: 'The run judged, or the run of the step or candidate judged.', example: EXAMPLE.runId })
  runId: string;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The step judged (or the candidate’s step); null for a run’s score.',
    example: EXAMPLE.stepId,
  })
  stepId: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'The candidate’s key; null unless a candidate is judged.', example: EXAMPLE.candidateKey })
  key: string | null;

  @ApiProperty({ enum: ['run', 'step', 'candidate'], description: 'What is judged.', example: 'candidate' })
  target: 'run' | 'step' | 'candidate';

  @ApiProperty({ description: 'Score name.', example: 'correct' })
  name: string;

  @ApiProperty({ enum: SCORE_DATA_TYPES, description: 'The kind of value.', example: 'boolean' })
  dataType: ScoreDataType;

  @ApiProperty({ ...VALUE_SCHEMA, description: 'The value.', example: false } as never)
  value: number | boolean | string;

  @ApiProperty({ nullable: true, type: String, description: 'Comment.', example: 'The phone case is not a competitor.' })
  comment: string | null;

  @ApiProperty({ enum: SCORE_SOURCES, description: 'Who scored.', example: 'human' })
  source: ScoreSource;

  @ApiProperty({ nullable: true, type: String, description: 'Author.', example: 'ana@example.com' })
  author: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'Metadata.', example: { widget: 'thumbs' } })
  metadata: Record<string, unknown> | null;

  @ApiProperty({ format: 'date-time', description: 'When the score was made.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'When it last changed.', example: EXAMPLE.updatedAt })
  updatedAt: string;
}

export class ScoreListDto extends PageDtoOf(ScoreDto, 'ScoreListDto', 'Scores, newest first.') {}

export class ScoreBatchResultDto {
  @ApiProperty({ type: [ScoreDto], description: 'The scores, in the order sent.' })
  items: ScoreDto[];
}

export class ListScoresQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only scores of this run (its own, its steps’ and its candidates’).', example: EXAMPLE.runId })
  @IsOptional()
  @IsUUID()
  runId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only scores of this step (its own and its candidates’).', example: EXAMPLE.stepId })
  @IsOptional()
  @IsUUID()
  stepId?: string;

  @ApiPropertyOptional({ description: 'Only scores of candidates with this key.', maxLength: 500, example: EXAMPLE.candidateKey })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  key?: string;

  @ApiPropertyOptional({ description: 'Only scores with this name.', maxLength: 200, example: 'correct' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @OptionalEnum(SCORE_SOURCES, 'Only scores from this source.')
  source?: ScoreSource;

  @LimitParam(500, 100)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

export class ScoreConfigBodyDto {
  @ApiProperty({ enum: SCORE_DATA_TYPES, description: 'The kind of value scores of this name carry.', example: 'categorical' })
  @IsIn(SCORE_DATA_TYPES as unknown as string[], { message: `$property must be one of: ${SCORE_DATA_TYPES.join(', ')}` })
  dataType: ScoreDataType;

  @ApiPropertyOptional({ description: 'Lowest allowed value (numeric).', example: 0 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  min?: number;

  @ApiPropertyOptional({ description: 'Highest allowed value (numeric).', example: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  max?: number;

  @ApiPropertyOptional({ type: [String], description: 'The allowed labels (categorical; required for it).', example: ['good', 'bad', 'unsure'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  labels?: string[];

  @ApiPropertyOptional({ description: 'What the score means.', maxLength: 2000, example: 'Whether the user agrees with the selection.' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;
}

export class CreateScoreConfigDto extends ScoreConfigBodyDto {
  @ApiProperty({ description: 'The score name this configuration validates.', maxLength: 200, example: 'verdict' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;
}

export class ScoreConfigDto {
  @ApiProperty({ description: 'Score name.', example: 'verdict' })
  name: string;

  @ApiProperty({ enum: SCORE_DATA_TYPES, description: 'The kind of value.', example: 'categorical' })
  dataType: ScoreDataType;

  @ApiProperty({ nullable: true, type: Number, description: 'Lowest allowed value.', example: null })
  min: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Highest allowed value.', example: null })
  max: number | null;

  @ApiProperty({ nullable: true, type: [String], description: 'Allowed labels.', example: ['good', 'bad', 'unsure'] })
  labels: string[] | null;

  @ApiProperty({ nullable: true, type: String, description: 'Description.', example: 'Whether the user agrees with the selection.' })
  description: string | null;

  @ApiProperty({ format: 'date-time', description: 'Created.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'Last changed.', example: EXAMPLE.updatedAt })
  updatedAt: string;
}

export class ScoreConfigListDto {
  @ApiProperty({ type: [ScoreConfigDto], description: 'The project’s score configurations, by name.' })
  items: ScoreConfigDto[];
}
