import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, ProjectId } from '../auth/principal.js';
import { RequireScope, RootOnly, RootOrProject } from '../common/access.js';
import { ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { CreatedProjectDto, CreateProjectDto, ProjectDto, ProjectListDto, UpdateProjectDto } from './projects.dto.js';
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

  @Patch(':id')
  @RootOnly()
  @ApiIdParam('id', 'Project id.')
  @ApiOperation({ summary: 'Set a project’s retention (root key only)' })
  @ApiOkResponse({ type: ProjectDto })
  @ApiErrors(400, 401, 403, 404, 429)
  updateProject(@Param('id', uuidParam) id: string, @Body() body: UpdateProjectDto): Promise<ProjectDto> {
    return this.projects.setRetention(id, body.retentionDays);
  }
}

/** The caller's own project, for its project keys. */
@ApiTags('projects')
@Controller('v1/project')
export class CurrentProjectController {
  constructor(private readonly projects: ProjectsService) {}

  @Patch()
  @ProjectRoute('admin')
  @ApiOperation({ summary: 'Set the retention of the key’s own project' })
  @ApiOkResponse({ type: ProjectDto })
  @ApiErrors(400)
  updateOwnProject(@ProjectId() projectId: string, @Body() body: UpdateProjectDto): Promise<ProjectDto> {
    return this.projects.setRetention(projectId, body.retentionDays);
  }
}
