import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';

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
  @ApiProperty({ format: 'uuid', description: 'Project id.' })
  id: string;

  @ApiProperty({ description: 'Unique project name.' })
  name: string;

  @ApiProperty({ format: 'date-time', description: 'When the project was created.' })
  createdAt: string;
}

export class NewApiKeyDto {
  @ApiProperty({ format: 'uuid', description: 'Key id (for listing and revoking).' })
  id: string;

  @ApiProperty({ description: 'Key name.' })
  name: string;

  @ApiProperty({ description: 'Display prefix of the key, safe to show.', example: 'xr_4fT9aB2c' })
  prefix: string;

  @ApiProperty({ type: [String], enum: ['ingest', 'read', 'admin'], description: 'What the key may do.' })
  scopes: string[];

  @ApiProperty({ description: 'The secret key. Shown only in this answer; store it now.' })
  key: string;
}

export class CreatedProjectDto extends ProjectDto {
  @ApiProperty({ type: NewApiKeyDto, description: 'An admin key for the new project.' })
  apiKey: NewApiKeyDto;
}

export class ProjectListDto {
  @ApiProperty({ type: [ProjectDto], description: 'The projects visible to the caller.' })
  items: ProjectDto[];

  @ApiPropertyOptional({ nullable: true, type: String, description: 'Always null: projects are few.' })
  nextCursor: string | null;
}
