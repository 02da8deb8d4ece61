import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import {
  CandidatePageDto,
  CandidatesStoredDto,
  CandidateSummaryDto,
  CreateCandidatesDto,
  ListCandidatesQueryDto,
} from './candidates.dto.js';
import { Metrics } from '../metrics/metrics.service.js';
import { CandidatesService } from './candidates.service.js';

@ApiTags('candidates')
@ApiIdParam('stepId', 'The step the candidates belong to.')
@Controller('v1/steps/:stepId/candidates')
export class CandidatesController {
  constructor(
    private readonly candidates: CandidatesService,
    private readonly metrics: Metrics,
  ) {}

  @Post()
  @HttpCode(201)
  @ProjectRoute('ingest')
  @ApiOperation({
    summary: 'Store a batch of candidates for a step (one transaction; replays update by key)',
    description: 'Up to XRAY_MAX_CANDIDATES_PER_REQUEST (default 10,000) candidates per request.',
  })
  @ApiCreatedResponse({ type: CandidatesStoredDto })
  @ApiErrors(400, 404, 413)
  async createCandidates(
    @ProjectId() projectId: string,
    @Param('stepId', uuidParam) stepId: string,
    @Body() body: CreateCandidatesDto,
  ): Promise<CandidatesStoredDto> {
    const stored = await this.candidates.createCandidates(projectId, stepId, body);
    this.metrics.countCandidatesWritten(stored.stored);
    return stored;
  }

  @Get()
  @ProjectRoute('read')
  @ApiOperation({ summary: 'List a step’s candidates in insertion order, filtered by decision or reason' })
  @ApiOkResponse({ type: CandidatePageDto })
  @ApiErrors(400, 404)
  listCandidates(
    @ProjectId() projectId: string,
    @Param('stepId', uuidParam) stepId: string,
    @Query() query: ListCandidatesQueryDto,
  ): Promise<CandidatePageDto> {
    return this.candidates.listCandidates(projectId, stepId, query);
  }

  @Get('summary')
  @ProjectRoute('read')
  @ApiOperation({ summary: 'Counts by decision and the histogram of reasons for a step' })
  @ApiOkResponse({ type: CandidateSummaryDto })
  @ApiErrors(400, 404)
  getCandidateSummary(@ProjectId() projectId: string, @Param('stepId', uuidParam) stepId: string): Promise<CandidateSummaryDto> {
    return this.candidates.summarize(projectId, stepId);
  }
}
