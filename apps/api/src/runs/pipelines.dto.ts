import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class ListPipelinesQueryDto {
  @ApiPropertyOptional({
    description: 'Only pipelines whose name contains this text, ignoring case.',
    example: 'selection',
    maxLength: 200,
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @ApiPropertyOptional({
    description: 'At most this many pipelines, 1–1000 (default 200).',
    minimum: 1,
    maximum: 1000,
    default: 200,
    type: 'integer',
    example: 50,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class PipelineSummaryDto {
  @ApiProperty({ description: 'Pipeline name, as runs record it.', example: 'competitor-selection' })
  name: string;

  @ApiProperty({ type: 'integer', description: 'Runs of the pipeline stored in the project.', example: 1280 })
  runCount: number;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'When the pipeline’s latest run started (`startedAt` of its newest run).',
    example: '2026-11-30T21:04:12.345Z',
  })
  lastRunAt: string | null;
}

export class PipelineListDto {
  @ApiProperty({ type: [PipelineSummaryDto], description: 'Pipelines with at least one run, most recently run first (then by name).' })
  items: PipelineSummaryDto[];
}
