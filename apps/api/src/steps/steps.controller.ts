import { Body, Controller, Get, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { REQUEST_EXAMPLE } from '../common/examples.js';
import { ProjectId } from '../auth/principal.js';
import { ApiBodyExamples, ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { StepTreeService } from './step-tree.service.js';
import { CreateStepDto, ListRunStepsQueryDto, StepDetailDto, StepDto, StepPageDto, UpdateStepDto } from './steps.dto.js';
import { StepsService } from './steps.service.js';

const uuid = uuidParam;

@ApiTags('steps')
@Controller('v1')
export class StepsController {
  constructor(
    private readonly steps: StepsService,
    private readonly tree: StepTreeService,
  ) {}

  @Post('runs/:runId/steps')
  @ProjectRoute('ingest')
  @ApiIdParam('runId', 'The run to add the step to.')
  @ApiOperation({ summary: 'Create a step in a run (idempotent by client id)' })
  @ApiBodyExamples(CreateStepDto, { newStep: { summary: 'A filter step (add `parentStepId` to nest it)', value: REQUEST_EXAMPLE.createStep } })
  @ApiCreatedResponse({ type: StepDto, description: 'Created.' })
  @ApiOkResponse({ type: StepDto, description: 'A step with this id already existed; the fields sent were updated.' })
  @ApiErrors(400, 404, 409, 413)
  async createStep(
    @ProjectId() projectId: string,
    @Param('runId', uuid) runId: string,
    @Body() body: CreateStepDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StepDto> {
    const { step, created } = await this.steps.createStep(projectId, runId, body);
    res.status(created ? 201 : 200);
    return step;
  }

  @Get('runs/:runId/steps')
  @ProjectRoute('read')
  @ApiIdParam('runId', 'The run whose steps to list.')
  @ApiOperation({
    summary: 'List a run’s steps, flat, in order of start (cursor-paged; for trees larger than getRun’s stepLimit)',
    description:
      'Each step carries `parentStepId` and `position` (order among siblings) to build the tree, its candidate counts, and its JSON fields as bounded previews.',
  })
  @ApiOkResponse({ type: StepPageDto })
  @ApiErrors(400, 404)
  listRunSteps(@ProjectId() projectId: string, @Param('runId', uuid) runId: string, @Query() query: ListRunStepsQueryDto): Promise<StepPageDto> {
    return this.tree.listRunSteps(projectId, runId, query);
  }

  @Patch('steps/:id')
  @ProjectRoute('ingest')
  @ApiIdParam('id', 'Step id.')
  @ApiOperation({ summary: 'Update a step: complete or fail it, merge metadata, report true candidate totals' })
  @ApiBodyExamples(UpdateStepDto, { complete: { summary: 'Complete it with its reasoning and true totals', value: REQUEST_EXAMPLE.completeStep } })
  @ApiOkResponse({ type: StepDto })
  @ApiErrors(400, 404, 413)
  updateStep(@ProjectId() projectId: string, @Param('id', uuid) id: string, @Body() body: UpdateStepDto): Promise<StepDto> {
    return this.steps.updateStep(projectId, id, body);
  }

  @Get('steps/:id')
  @ProjectRoute('read')
  @ApiIdParam('id', 'Step id.')
  @ApiOperation({ summary: 'Get a step with its candidate counts, elimination ratio and its own scores' })
  @ApiOkResponse({ type: StepDetailDto })
  @ApiErrors(400, 404)
  getStep(@ProjectId() projectId: string, @Param('id', uuid) id: string): Promise<StepDetailDto> {
    return this.steps.findStepWithScores(projectId, id);
  }
}
