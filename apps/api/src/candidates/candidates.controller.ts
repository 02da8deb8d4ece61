import { Body, Controller, Get, HttpCode, Param, type PipeTransform, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { AppError } from '../common/app-error.js';
import { CandidateDto, CandidatePageDto, CandidatesStoredDto, CandidateSummaryDto, CreateCandidatesDto, ListCandidatesQueryDto } from './candidates.dto.js';
import { Metrics } from '../metrics/metrics.service.js';
import { CandidatesService } from './candidates.service.js';

/** A key in the path: what a candidate key can be (1–500 characters of valid Unicode, no NUL), else 400. */
const candidateKeyParam: PipeTransform<unknown, string> = {
  transform(value: unknown): string {
    const ok =
      typeof value === 'string' &&
      value.length > 0 &&
      value.length <= 500 &&
      !value.includes('\u0000') &&
      (value as unknown as { isWellFormed(): boolean }).isWellFormed();
    if (!ok) throw new AppError(400, 'INVALID_KEY', 'The candidate key in the path must be 1–500 characters of valid Unicode text, URL-encoded');
    return value as string;
  },
};

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

  // Declared after `summary`, which therefore keeps that path: a candidate keyed `summary` is
  // fetched with its first letter percent-encoded (`%73ummary`), which routes here.
  @Get(':key')
  @ProjectRoute('read')
  @ApiParam({
    name: 'key',
    type: String,
    description:
      'The candidate’s key, URL-encoded (any characters; `/` is `%2F`). The key `summary` is sent as `%73ummary` (plain `summary` is getCandidateSummary).',
    example: 'B0XYZ',
  })
  @ApiOperation({ summary: 'Get one candidate of a step in full (list answers show previews of large `data` and `evaluations`)' })
  @ApiOkResponse({ type: CandidateDto })
  @ApiErrors(400, 404)
  getCandidate(
    @ProjectId() projectId: string,
    @Param('stepId', uuidParam) stepId: string,
    @Param('key', candidateKeyParam) key: string,
  ): Promise<CandidateDto> {
    return this.candidates.findCandidate(projectId, stepId, key);
  }
}
