import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { RequireScope, RootOnly, RootOrProject } from '../common/access.js';
import { ApiErrors } from '../common/api-docs.js';
import { CreatedProjectDto, CreateProjectDto, ProjectListDto } from './projects.dto.js';
import { ProjectsService } from './projects.service.js';

@ApiTags('projects')
@ApiSecurity('bearer')
@ApiSecurity('api-key')
@Controller('v1/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @HttpCode(201)
  @RootOnly()
  @ApiOperation({ summary: 'Create a project and its first admin key (root key only)' })
  @ApiCreatedResponse({ type: CreatedProjectDto })
  @ApiErrors(400, 401, 403, 409, 429)
  createProject(@Body() body: CreateProjectDto): Promise<CreatedProjectDto> {
    return this.projects.create(body.name);
  }

  @Get()
  @RootOrProject()
  @RequireScope('read')
  @ApiOperation({ summary: 'List projects: all of them for the root key, its own project for a project key' })
  @ApiOkResponse({ type: ProjectListDto })
  @ApiErrors(401, 403, 429)
  async listProjects(@CurrentPrincipal() principal: Principal): Promise<ProjectListDto> {
    return { items: await this.projects.list(principal), nextCursor: null };
  }
}
