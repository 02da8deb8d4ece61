import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { CandidateEvaluationPageDto, SearchCandidatesQueryDto, SearchStepsQueryDto, StepSearchPageDto } from './analytics.dto.js';
import { PipelineAnalyticsDto, PipelineAnalyticsQueryDto } from './pipeline-analytics.dto.js';
import { LlmAnalyticsDto, LlmAnalyticsQueryDto } from './llm-analytics.dto.js';
import { RunComparisonDto, ValuePairDto } from './run-comparison.dto.js';
import { AnalyticsService } from './analytics.service.js';

@ApiTags('analytics')
@ApiExtraModels(ValuePairDto)
@Controller('v1')
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsService) {}

  @Get('steps')
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'Search steps across runs (by name, type, status, pipeline, elimination ratio, duration, time)',
    description: '“Which runs’ price filter dropped more than 90%?” is `?name=filter-by-price&minEliminationRatio=0.9`.',
  })
  @ApiOkResponse({ type: StepSearchPageDto })
  @ApiErrors(400)
  searchSteps(@ProjectId() projectId: string, @Query() query: SearchStepsQueryDto): Promise<StepSearchPageDto> {
    return this.analytics.searchSteps(projectId, query);
  }

  @Get('candidates')
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'Candidate lineage: every evaluation of one item across runs, newest first',
    description: '“Why was product B0XYZ never selected?” is `?key=B0XYZ`.',
  })
  @ApiOkResponse({ type: CandidateEvaluationPageDto })
  @ApiErrors(400)
  searchCandidates(@ProjectId() projectId: string, @Query() query: SearchCandidatesQueryDto): Promise<CandidateEvaluationPageDto> {
    return this.analytics.searchCandidates(projectId, query);
  }

  @Get('runs/:id/compare/:otherId')
  @ProjectRoute('read')
  @ApiIdParam('id', 'The first run.')
  @ApiIdParam('otherId', 'The run to compare it with.')
  @ApiOperation({ summary: 'Compare two runs step by step: status, duration, candidate counts and candidates decided differently' })
  @ApiOkResponse({ type: RunComparisonDto })
  @ApiErrors(400, 404)
  compareRuns(@ProjectId() projectId: string, @Param('id', uuidParam) id: string, @Param('otherId', uuidParam) otherId: string): Promise<RunComparisonDto> {
    return this.analytics.compareRuns(projectId, id, otherId);
  }

  @Get('analytics/pipelines/:pipeline')
  @ProjectRoute('read')
  @ApiParam({ name: 'pipeline', description: 'Pipeline name.', type: String })
  @ApiOperation({ summary: 'Pipeline analytics: runs by status, per-step statistics, top rejection reasons, runs and errors over time' })
  @ApiOkResponse({ type: PipelineAnalyticsDto })
  @ApiErrors(400)
  getPipelineAnalytics(
    @ProjectId() projectId: string,
    @Param('pipeline') pipeline: string,
    @Query() query: PipelineAnalyticsQueryDto,
  ): Promise<PipelineAnalyticsDto> {
    return this.analytics.pipelineAnalytics(projectId, pipeline, query);
  }

  @Get('analytics/llm')
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'LLM analytics: calls, tokens and cost over time, per pipeline, per step name and per model, with p50/p95 latency per model',
    description: 'Over the project, or one pipeline with `?pipeline=`. Steps count by the hour their run started.',
  })
  @ApiOkResponse({ type: LlmAnalyticsDto })
  @ApiErrors(400)
  getLlmAnalytics(@ProjectId() projectId: string, @Query() query: LlmAnalyticsQueryDto): Promise<LlmAnalyticsDto> {
    return this.analytics.llmAnalytics(projectId, query);
  }
}
