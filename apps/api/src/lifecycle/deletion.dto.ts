import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { CursorParam, LimitParam, OptionalEnum, OptionalTimestamp, PageDtoOf } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { RUN_STATUSES } from '../domain/vocabulary.js';

export const DELETION_KINDS = ['run', 'runs', 'erasure', 'retention'] as const;
export const DELETION_STATUSES = ['running', 'done', 'failed', 'interrupted'] as const;

export class DeletionCountsDto {
  @ApiProperty({ type: 'integer', description: 'Runs deleted.', example: 1 })
  runs: number;

  @ApiProperty({ type: 'integer', description: 'Steps deleted (with their runs).', example: 3 })
  steps: number;

  @ApiProperty({ type: 'integer', description: 'Candidate rows deleted (with their runs, or erased by key).', example: 5000 })
  candidates: number;

  @ApiProperty({ type: 'integer', description: 'Steps whose stored candidate counts dropped (erasure only; 0 otherwise).', example: 0 })
  stepsChanged: number;
}

export class DeletionDto {
  @ApiProperty({ format: 'uuid', description: 'Deletion id (follow a bulk deletion with `getDeletion`).', example: '0193a2c6-4d00-7e1f-8a2b-3c4d5e6f7a18' })
  id: string;

  @ApiProperty({
    enum: DELETION_KINDS,
    description: '`run`: one run by id; `runs`: runs by filter; `erasure`: a candidate key erased; `retention`: runs past the project’s retention.',
    example: 'run',
  })
  kind: string;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The API key that asked; null for retention and the operator CLI.',
    example: EXAMPLE.apiKeyId,
  })
  keyId: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'What was asked: the run id, the filter, or the erased key’s SHA-256 (never the key itself).',
    example: { runId: EXAMPLE.runId },
  })
  filter: Record<string, unknown>;

  @ApiProperty({ type: DeletionCountsDto, description: 'What was removed so far (counts, never content).' })
  counts: DeletionCountsDto;

  @ApiProperty({
    enum: DELETION_STATUSES,
    description: '`running` until a bulk deletion ends; `interrupted` if the server stopped first (ask again to go on).',
    example: 'done',
  })
  status: string;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Runs the deletion had to remove when it began (bulk deletions; null otherwise).', example: 1 })
  total: number | null;

  @ApiProperty({ type: 'integer', description: 'Runs removed so far (for an erasure, candidate rows).', example: 1 })
  done: number;

  @ApiProperty({ format: 'date-time', description: 'When the deletion was asked for.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When it ended; null while running.', example: EXAMPLE.updatedAt })
  finishedAt: string | null;
}

export class DeletionListDto extends PageDtoOf(DeletionDto, 'DeletionListDto', 'The project’s deletions, newest first.') {}

export class ListDeletionsQueryDto {
  @LimitParam(200, 50)
  limit?: number;

  @CursorParam()
  cursor?: string;
}

/** At least one filter is required (checked by the service, which names them). */
export class DeleteRunsDto {
  @ApiPropertyOptional({ description: 'Only runs of this pipeline.', maxLength: 200, example: EXAMPLE.pipeline })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  pipeline?: string;

  @OptionalEnum(RUN_STATUSES, 'Only runs with this status.', 'error')
  status?: (typeof RUN_STATUSES)[number];

  @OptionalTimestamp('Only runs started before this time.', '2020-01-01T00:00:00.000Z')
  before?: string;
}

export class EraseCandidatesQueryDto {
  @ApiProperty({ description: 'The item’s key (its own id, e.g. a product id) to erase from every step of every run.', maxLength: 500, example: 'B0ERASE' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  key: string;
}
