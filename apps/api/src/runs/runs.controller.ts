import { Body, Controller, Get, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { REQUEST_EXAMPLE } from '../common/examples.js';
import { ProjectId } from '../auth/principal.js';
import { ApiBodyExamples, ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { CreateRunDto, ListRunsQueryDto, RunDto, RunPageDto, UpdateRunDto } from './runs.dto.js';
import { RunsService } from './runs.service.js';

@ApiTags('runs')
@Controller('v1/runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Post()
  @ProjectRoute('ingest')
  @ApiOperation({ summary: 'Start a run (idempotent by client id)' })
  @ApiBodyExamples(CreateRunDto, { newRun: { summary: 'Start a competitor-selection run', value: REQUEST_EXAMPLE.createRun } })
  @ApiCreatedResponse({ type: RunDto, description: 'Created.' })
  @ApiOkResponse({ type: RunDto, description: 'A run with this id already existed; the fields sent were updated.' })
  @ApiErrors(400, 409, 410, 413)
  async createRun(@ProjectId() projectId: string, @Body() body: CreateRunDto, @Res({ passthrough: true }) res: Response): Promise<RunDto> {
    const { run, created } = await this.runs.createRun(projectId, body);
    res.status(created ? 201 : 200);
    return run;
  }

  @Patch(':id')
  @ProjectRoute('ingest')
  @ApiIdParam('id', 'Run id.')
  @ApiOperation({ summary: 'Update a run: complete, fail or cancel it, merge metadata, set tags' })
  @ApiBodyExamples(UpdateRunDto, {
    complete: { summary: 'Complete it with its output', value: REQUEST_EXAMPLE.completeRun },
    fail: { summary: 'Fail it with the error', value: REQUEST_EXAMPLE.failRun },
  })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(400, 404, 413)
  updateRun(@ProjectId() projectId: string, @Param('id', uuidParam) id: string, @Body() body: UpdateRunDto): Promise<RunDto> {
    return this.runs.updateRun(projectId, id, body);
  }

  @Get()
  @ProjectRoute('read')
  @ApiOperation({ summary: 'List runs, newest first, with filters and cursor paging' })
  @ApiOkResponse({ type: RunPageDto })
  @ApiErrors(400)
  listRuns(@ProjectId() projectId: string, @Query() query: ListRunsQueryDto): Promise<RunPageDto> {
    return this.runs.listRuns(projectId, query);
  }
}
