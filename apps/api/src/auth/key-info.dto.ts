import { ApiProperty } from '@nestjs/swagger';
import { SCOPES } from '../domain/vocabulary.js';

export class KeyInfoDto {
  @ApiProperty({ description: 'True for the operator’s root key (XRAY_ROOT_KEY), which manages projects and belongs to none.', example: false })
  root: boolean;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The key’s project; null for the root key.',
    example: '0193f2a4-6c1e-7b3a-9f2d-5e8c1a7b4d21',
  })
  projectId: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'Name of the key’s project; null for the root key.', example: 'search-team' })
  projectName: string | null;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The key’s id (as listed by `listApiKeys`); null for the root key.',
    example: '0193f2a5-0d4b-7c8e-8a61-2f9b3c4d5e6f',
  })
  keyId: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'The key’s name; null for the root key.', example: 'dashboard' })
  keyName: string | null;

  @ApiProperty({
    type: [String],
    enum: SCOPES,
    description: 'What the key may do (`admin` implies `ingest` and `read`); empty for the root key, which has no project scope.',
    example: ['read'],
  })
  scopes: string[];

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'When the key stops working; null if it does not expire (and for the root key).',
    example: '2027-06-30T00:00:00.000Z',
  })
  expiresAt: string | null;
}
