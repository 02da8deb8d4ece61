import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ErrorDetailDto {
  @ApiProperty({ description: 'The offending field, as a dotted path (e.g. `candidates.3.decision`).', example: 'pipeline' })
  field: string;

  @ApiProperty({ description: 'What is wrong with it.', example: 'pipeline must be a string' })
  message: string;
}

/** The shape of every error answer. */
export class ErrorResponseDto {
  @ApiProperty({ description: 'HTTP status code.', example: 400 })
  statusCode: number;

  @ApiProperty({ description: 'Stable machine-readable error code.', example: 'VALIDATION_FAILED' })
  error: string;

  @ApiProperty({ description: 'Human-readable explanation.', example: 'pipeline: pipeline must be a string' })
  message: string;

  @ApiPropertyOptional({
    type: [ErrorDetailDto],
    description: 'Per-field problems, for validation errors.',
    example: [{ field: 'pipeline', message: 'pipeline must be a string' }],
  })
  details?: ErrorDetailDto[];
}
