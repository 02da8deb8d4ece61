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
import { CursorParam, LimitParam, OptionalEnum, OptionalJson, PageDtoOf } from '../common/dto-helpers.js';
import { JsonField } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { ScoreDto } from '../scores/scores.dto.js';
import { PreviewEvaluationsField, PreviewJsonField, TruncatedField } from '../common/preview.js';
import { DECISIONS } from '../domain/vocabulary.js';

export class EvaluationDto {
  @ApiProperty({ description: 'Name of the check, e.g. `price`.', maxLength: 200, example: 'price' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  check: string;

  @ApiProperty({ description: 'Whether the candidate passed it.', example: false })
  @IsBoolean()
  passed: boolean;

  @ApiPropertyOptional({ description: 'Detail, e.g. `$89 > $50`.', maxLength: 2000, example: '$89 > $50' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  detail?: string;
}

export class CandidateInputDto {
  @ApiProperty({ description: 'The item’s own id (e.g. a product id); unique within the step.', maxLength: 500, example: EXAMPLE.candidateKey })
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  key: string;

  @ApiProperty({ enum: DECISIONS, description: 'What the step decided for this item.', example: 'rejected' })
  @IsIn(DECISIONS as unknown as string[], { message: `decision must be one of: ${DECISIONS.join(', ')}` })
  decision: (typeof DECISIONS)[number];

  @ApiPropertyOptional({ description: 'Score the step gave it.', example: 0.42 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  score?: number;

  @ApiPropertyOptional({ description: 'Rank the step gave it (1 = best).', type: 'integer', example: 17 })
  @IsOptional()
  @IsInt()
  @Min(-2_000_000_000)
  @Max(2_000_000_000)
  rank?: number;

  @ApiPropertyOptional({ description: 'Why: the reason for the decision, e.g. `price above $50`.', maxLength: 2000, example: EXAMPLE.reason })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  reason?: string;

  @ApiPropertyOptional({ type: [EvaluationDto], description: 'Per-check results.', example: EXAMPLE.evaluations })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => EvaluationDto)
  evaluations?: EvaluationDto[];

  @OptionalJson('The item itself (any JSON).', EXAMPLE.candidateData)
  data?: unknown;
}

/** Validated by validateCandidateBatch (same rules, no per-item class instances). */
@SelfValidated()
export class CreateCandidatesDto {
  @ApiProperty({
    type: [CandidateInputDto],
    description: 'Candidates to store; keys already stored for the step are updated.',
    example: [
      {
        key: 'B0AAA',
        decision: 'accepted',
        score: 0.91,
        evaluations: [{ check: 'price', passed: true, detail: '$39 <= $50' }],
        data: { title: 'Aluminium laptop riser', price: 39 },
      },
      { key: EXAMPLE.candidateKey, decision: 'rejected', reason: EXAMPLE.reason, evaluations: EXAMPLE.evaluations, data: EXAMPLE.candidateData },
    ],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => CandidateInputDto)
  candidates: CandidateInputDto[];
}

export class CandidatesStoredDto {
  @ApiProperty({ type: 'integer', description: 'Number of candidates written (inserted or updated).', example: 2 })
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
  @ApiProperty({ description: 'The item’s own id.', example: EXAMPLE.candidateKey })
  key: string;

  @ApiProperty({ enum: DECISIONS, description: 'What the step decided.', example: 'rejected' })
  decision: string;

  @ApiProperty({ nullable: true, type: Number, description: 'Score the step gave it.', example: 0.42 })
  score: number | null;

  @ApiProperty({ nullable: true, type: 'integer', description: 'Rank the step gave it.', example: 17 })
  rank: number | null;

  @ApiProperty({ nullable: true, type: String, description: 'Why the step decided so.', example: EXAMPLE.reason })
  reason: string | null;

  @ApiProperty({ type: [EvaluationDto], nullable: true, description: 'Per-check results.', example: EXAMPLE.evaluations })
  evaluations: EvaluationDto[] | null;

  @JsonField('The item itself (any JSON value).', EXAMPLE.candidateData)
  data: unknown;

  @ApiProperty({ format: 'date-time', description: 'When it was first stored.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ type: [ScoreDto], description: 'Scores of this candidate (this step and key), oldest first.' })
  scores: ScoreDto[];
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

export class CandidatePageDto extends PageDtoOf(
  CandidateListItemDto,
  'CandidatePageDto',
  'This page of candidates, in insertion order; `evaluations` and `data` as bounded previews (see `truncated`).',
) {}

export class DecisionCountsDto {
  @ApiProperty({ type: 'integer', description: 'Candidates accepted.', example: 400 })
  accepted: number;

  @ApiProperty({ type: 'integer', description: 'Candidates rejected.', example: 4588 })
  rejected: number;

  @ApiProperty({ type: 'integer', description: 'Candidates selected.', example: 12 })
  selected: number;
}

export class ReasonCountDto {
  @ApiProperty({ description: 'A reason, exactly as recorded.', example: EXAMPLE.reason })
  reason: string;

  @ApiProperty({ type: 'integer', description: 'How many candidates carry it.', example: 4588 })
  count: number;
}

export class CandidateSummaryDto {
  @ApiProperty({ type: 'integer', description: 'Candidates stored for the step.', example: 5000 })
  total: number;

  @ApiProperty({ type: DecisionCountsDto, description: 'Counts per decision.' })
  byDecision: DecisionCountsDto;

  @ApiProperty({
    type: [ReasonCountDto],
    description: 'Reasons, most frequent first (top 100; candidates without a reason are not listed).',
    example: [{ reason: EXAMPLE.reason, count: 4588 }],
  })
  reasons: ReasonCountDto[];
}
