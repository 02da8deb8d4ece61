import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { OptionalTimestamp } from '../common/dto-helpers.js';
import { SCOPES } from './scopes.js';

export class CreateApiKeyDto {
  @ApiProperty({ description: 'What the key is for, e.g. `checkout-pipeline (prod)`.', maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name: string;

  @ApiProperty({
    description: '`ingest` (write runs, steps, candidates), `read` (every GET), `admin` (keys, and everything else).',
    enum: SCOPES,
    isArray: true,
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(3)
  @IsIn(SCOPES as unknown as string[], { each: true, message: `each scope must be one of: ${SCOPES.join(', ')}` })
  scopes: (typeof SCOPES)[number][];

  @OptionalTimestamp('When the key stops working (default: never). Must be in the future.')
  expiresAt?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid', description: 'Key id.' })
  id: string;

  @ApiProperty({ description: 'Key name.' })
  name: string;

  @ApiProperty({ description: 'The first characters of the key, to recognise it.', example: 'xr_4fT9aB2c' })
  prefix: string;

  @ApiProperty({ enum: SCOPES, isArray: true, description: 'What the key may do.' })
  scopes: string[];

  @ApiProperty({ format: 'date-time', description: 'When the key was created.' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Last use, to the minute; null if never used.' })
  lastUsedAt: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key expires; null if never.' })
  expiresAt: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key was revoked; null if active.' })
  revokedAt: string | null;
}

export class CreatedApiKeyDto {
  @ApiProperty({ format: 'uuid', description: 'Key id.' })
  id: string;

  @ApiProperty({ description: 'Key name.' })
  name: string;

  @ApiProperty({ description: 'The first characters of the key.' })
  prefix: string;

  @ApiProperty({ enum: SCOPES, isArray: true, description: 'What the key may do.' })
  scopes: string[];

  @ApiProperty({ format: 'date-time', description: 'When the key was created.' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key expires; null if never.' })
  expiresAt: string | null;

  @ApiProperty({ description: 'The secret key. Shown only in this answer: store it now.' })
  key: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto], description: 'The project’s keys, newest first, revoked ones included.' })
  items: ApiKeyDto[];

  @ApiPropertyOptional({ nullable: true, type: String, description: 'Always null: a project has few keys.' })
  nextCursor: string | null;
}
