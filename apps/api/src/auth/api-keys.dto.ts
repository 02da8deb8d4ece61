import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { OptionalTimestamp, PageDtoOf } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { SCOPES } from '../domain/vocabulary.js';

export class CreateApiKeyDto {
  @ApiProperty({ description: 'What the key is for, e.g. `checkout-pipeline (prod)`.', maxLength: 100, example: 'checkout-pipeline (prod)' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name: string;

  @ApiProperty({
    description:
      '`ingest` (write runs, steps, candidates, scores), `read` (every GET), `delete` (deletion and erasure), `feedback` (create scores only, ' +
      'for an end-user app), `admin` (keys, and everything else).',
    enum: SCOPES,
    isArray: true,
    example: ['ingest'],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCOPES.length)
  @IsIn(SCOPES as unknown as string[], { each: true, message: `each scope must be one of: ${SCOPES.join(', ')}` })
  scopes: (typeof SCOPES)[number][];

  @OptionalTimestamp('When the key stops working (default: never). Must be in the future.', '2027-06-30T00:00:00.000Z')
  expiresAt?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid', description: 'Key id.', example: EXAMPLE.apiKeyId })
  id: string;

  @ApiProperty({ description: 'Key name.', example: 'checkout-pipeline (prod)' })
  name: string;

  @ApiProperty({ description: 'The first characters of the key, to recognise it.', example: 'xr_4fT9aB2c' })
  prefix: string;

  @ApiProperty({ enum: SCOPES, isArray: true, description: 'What the key may do.', example: ['ingest'] })
  scopes: string[];

  @ApiProperty({ format: 'date-time', description: 'When the key was created.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'Last use, to the minute; null if never used.',
    example: '2026-11-30T09:14:00.000Z',
  })
  lastUsedAt: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key expires; null if never.', example: null })
  expiresAt: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key was revoked; null if active.', example: null })
  revokedAt: string | null;
}

export class CreatedApiKeyDto {
  @ApiProperty({ format: 'uuid', description: 'Key id.', example: EXAMPLE.apiKeyId })
  id: string;

  @ApiProperty({ description: 'Key name.', example: 'checkout-pipeline (prod)' })
  name: string;

  @ApiProperty({ description: 'The first characters of the key.', example: 'xr_4fT9aB2c' })
  prefix: string;

  @ApiProperty({ enum: SCOPES, isArray: true, description: 'What the key may do.', example: ['ingest'] })
  scopes: string[];

  @ApiProperty({ format: 'date-time', description: 'When the key was created.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key expires; null if never.', example: null })
  expiresAt: string | null;

  @ApiProperty({ description: 'The secret key. Shown only in this answer: store it now.', example: 'xr_4fT9aB2c0Qm7Zt1Lw8Vn3Ks6Hd5Jy2Pe' })
  key: string;
}

export class ApiKeyListDto extends PageDtoOf(ApiKeyDto, 'ApiKeyListDto', 'The project’s keys, newest first, revoked ones included.', {
  description: 'Always null: a project has few keys.',
  required: false,
}) {}
