import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { RunsService } from '../runs/runs.service.js';
import { DEFAULT_STEP_LIMIT, GetRunQueryDto, RunDetailDto } from './run-detail.dto.js';
import { ScoreReadsService } from '../scores/score-reads.service.js';
import { StepTreeService } from './step-tree.service.js';
import type { StepNodeDto } from './steps.dto.js';

/**
 * `GET /v1/runs/:id`: a run with its step tree. It lives with the steps (which depend on runs)
 * so that runs never import steps; it is documented under the `runs` tag like the other run routes.
 */
@ApiTags('runs')
@Controller('v1/runs')
export class RunDetailController {
  constructor(
    private readonly runs: RunsService,
    private readonly steps: StepTreeService,
    private readonly scores: ScoreReadsService,
  ) {}

  @Get(':id')
  @ProjectRoute('read')
  @ApiIdParam('id', 'Run id.')
  @ApiOperation({
    summary: 'Get a run in full with its step tree (at most `stepLimit` steps, JSON fields as previews) and each step’s candidate counts',
    description:
      'The run’s own fields are answered in full. `stepCount` and `stepsTruncated` say whether the tree holds every step; `listRunSteps` pages through all of them.',
  })
  @ApiOkResponse({ type: RunDetailDto })
  @ApiErrors(400, 404)
  async getRun(@ProjectId() projectId: string, @Param('id', uuidParam) id: string, @Query() query: GetRunQueryDto): Promise<RunDetailDto> {
    const run = await this.runs.findRun(projectId, id);
    const [tree, scores] = await Promise.all([
      this.steps.findBoundedStepTree(projectId, run, query.stepLimit ?? DEFAULT_STEP_LIMIT),
      this.scores.ofRun(projectId, run),
    ]);
    const attach = (nodes: StepNodeDto[]): void =>
      nodes.forEach((n) => {
        n.scores = scores.steps.get(n.id) ?? [];
        attach(n.children);
      });
    attach(tree.steps);
    return { ...run, scores: scores.run, ...tree };
  }
}
