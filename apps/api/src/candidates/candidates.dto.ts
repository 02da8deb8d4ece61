import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  ArrayMaxSize,
} from 'class-validator';
import { SelfValidated } from '../common/validation.js';
import { CursorParam, LimitParam, OptionalEnum, OptionalJson } from '../common/dto-helpers.js';
import { JsonField } from '../common/dto-helpers.js';
import { PreviewEvaluationsField, PreviewJsonField, TruncatedField } from '../common/preview.js';
import { DECISIONS } from './candidate.entity.js';

export class EvaluationDto {
  @ApiProperty({ description: 'Name of the check, e.g. `price`.', maxLength: 200 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  check: string;

  @ApiProperty({ description: 'Whether the candidate passed it.' })
  @IsBoolean()
  passed: boolean;

  @ApiPropertyOptional({ description: 'Detail, e.g. `$89 > $50`.', maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  detail?: string;
}

export class CandidateInputDto {
  @ApiProperty({ description: 'The item’s own id (e.g. a product id); unique within the step.', maxLength: 500 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  key: string;

  @ApiProperty({ enum: DECISIONS, description: 'What the step decided for this item.' })
  @IsIn(DECISIONS as unknown as string[], { message: `decision must be one of: ${DECISIONS.join(', ')}` })
  decision: (typeof DECISIONS)[number];

  @ApiPropertyOptional({ description: 'Score the step gave it.' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  score?: number;

  @ApiPropertyOptional({ description: 'Rank the step gave it (1 = best).', type: 'integer' })
  @IsOptional()
  @IsInt()
  @Min(-2_000_000_000)
  @Max(2_000_000_000)
  rank?: number;

  @ApiPropertyOptional({ description: 'Why: the reason for the decision, e.g. `price above $50`.', maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  reason?: string;

  @ApiPropertyOptional({ type: [EvaluationDto], description: 'Per-check results.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => EvaluationDto)
  evaluations?: EvaluationDto[];

  @OptionalJson('The item itself (any JSON).')
  data?: unknown;
}

/** Validated by validateCandidateBatch (same rules, no per-item class instances). */
@SelfValidated()
export class CreateCandidatesDto {
  @ApiProperty({ type: [CandidateInputDto], description: 'Candidates to store; keys already stored for the step are updated.' })
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => CandidateInputDto)
  candidates: CandidateInputDto[];
}

export class CandidatesStoredDto {
  @ApiProperty({ type: 'integer', description: 'Number of candidates written (inserted or updated).' })
  stored: number;
}

export class ListCandidatesQueryDto {
  @OptionalEnum(DECISIONS, 'Only candidates with this decision.')
  decision?: (typeof DECISIONS)[number];

  @ApiPropertyOptional({ description: 'Only candidates with exactly this reason.' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  reason?: string;

  @LimitParam(1000, 100)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

export class CandidateDto {
  @ApiProperty({ description: 'The item’s own id.' })
  key: string;

  @ApiProperty({ enum: DECISIONS, description: 'What the step decided.' })
  decision: string;

  @ApiProperty({ nullable: true, type: Number, description: 'Score the step gave it.' })
  score: number | null;

  @ApiProperty({ nullable: true, type: 'integer', description: 'Rank the step gave it.' })
  rank: number | null;

  @ApiProperty({ nullable: true, type: String, description: 'Why the step decided so.' })
  reason: string | null;

  @ApiProperty({ type: [EvaluationDto], nullable: true, description: 'Per-check results.' })
  evaluations: EvaluationDto[] | null;

  @JsonField('The item itself (any JSON value).')
  data: unknown;

  @ApiProperty({ format: 'date-time', description: 'When it was first stored.' })
  createdAt: string;
}

/** The JSON fields of a candidate that list answers bound to previews. */
export const CANDIDATE_PREVIEW_FIELDS = ['evaluations', 'data'] as const;
export type CandidatePreviewField = (typeof CANDIDATE_PREVIEW_FIELDS)[number];

export const EVALUATIONS_EXAMPLE = [{ check: 'price', passed: false, detail: '$89 > $50' }];
export const CANDIDATE_DATA_EXAMPLE = { title: 'Laptop stand pro', price: 89 };

/** A candidate in a list: `evaluations` and `data` bounded to previews (`getCandidate` answers them in full). */
export class CandidateListItemDto extends OmitType(CandidateDto, ['evaluations', 'data'] as const) {
  @PreviewEvaluationsField(EvaluationDto, EVALUATIONS_EXAMPLE)
  evaluations: EvaluationDto[] | string | null;

  @PreviewJsonField('The item itself (any JSON value).', CANDIDATE_DATA_EXAMPLE)
  data: unknown;

  @TruncatedField(CANDIDATE_PREVIEW_FIELDS, ['data'])
  truncated: CandidatePreviewField[];
}

export class CandidatePageDto {
  @ApiProperty({ type: [CandidateListItemDto], description: 'This page of candidates, in insertion order; `evaluations` and `data` as bounded previews (see `truncated`).' })
  items: CandidateListItemDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page.' })
  nextCursor: string | null;
}

export class DecisionCountsDto {
  @ApiProperty({ type: 'integer', description: 'Candidates accepted.' })
  accepted: number;

  @ApiProperty({ type: 'integer', description: 'Candidates rejected.' })
  rejected: number;

  @ApiProperty({ type: 'integer', description: 'Candidates selected.' })
  selected: number;
}

export class ReasonCountDto {
  @ApiProperty({ description: 'A reason, exactly as recorded.' })
  reason: string;

  @ApiProperty({ type: 'integer', description: 'How many candidates carry it.' })
  count: number;
}

export class CandidateSummaryDto {
  @ApiProperty({ type: 'integer', description: 'Candidates stored for the step.' })
  total: number;

  @ApiProperty({ type: DecisionCountsDto, description: 'Counts per decision.' })
  byDecision: DecisionCountsDto;

  @ApiProperty({ type: [ReasonCountDto], description: 'Reasons, most frequent first (top 100; candidates without a reason are not listed).' })
  reasons: ReasonCountDto[];
}
