import { ApiProperty } from '@nestjs/swagger';
import { PageDtoOf } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { SCOPES } from '../domain/vocabulary.js';
import { IsInt, IsNotEmpty, IsString, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';

export class CreateProjectDto {
  /** Unique project name, e.g. the team or product it belongs to. */
  @ApiProperty({ description: 'Unique project name (letters, digits, `-`, `_`, `.`).', example: 'search-team', maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'name may contain only letters, digits, ".", "_" and "-"' })
  name: string;
}

export class ProjectDto {
  @ApiProperty({ format: 'uuid', description: 'Project id.', example: EXAMPLE.projectId })
  id: string;

  @ApiProperty({ description: 'Unique project name.', example: 'search-team' })
  name: string;

  @ApiProperty({ format: 'date-time', description: 'When the project was created.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description:
      'Days the project keeps its runs: older runs are deleted with their steps and candidates. Null: the server default (XRAY_RETENTION_DAYS, 0 = forever).',
    example: 30,
  })
  retentionDays: number | null;
}

export class UpdateProjectDto {
  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: 36500,
    description: 'Days to keep runs (1 to 36500); null goes back to the server default.',
    example: 30,
  })
  @ValidateIf((_, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(36500)
  retentionDays: number | null;
}

export class NewApiKeyDto {
  @ApiProperty({ format: 'uuid', description: 'Key id (for listing and revoking).', example: EXAMPLE.apiKeyId })
  id: string;

  @ApiProperty({ description: 'Key name.', example: 'admin' })
  name: string;

  @ApiProperty({ description: 'Display prefix of the key, safe to show.', example: 'xr_4fT9aB2c' })
  prefix: string;

  @ApiProperty({ type: [String], enum: SCOPES, description: 'What the key may do.', example: ['admin'] })
  scopes: string[];

  @ApiProperty({ description: 'The secret key. Shown only in this answer; store it now.', example: 'xr_4fT9aB2c0Qm7Zt1Lw8Vn3Ks6Hd5Jy2Pe' })
  key: string;
}

export class CreatedProjectDto extends ProjectDto {
  @ApiProperty({ type: NewApiKeyDto, description: 'An admin key for the new project.' })
  apiKey: NewApiKeyDto;
}

export class ProjectListDto extends PageDtoOf(ProjectDto, 'ProjectListDto', 'The projects visible to the caller.', {
  description: 'Always null: projects are few.',
  required: false,
}) {}
