import { Body, Controller, Delete, Get, HttpCode, Param, type PipeTransform, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { AppError } from '../common/app-error.js';
import { ApiBodyExamples, ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { EXAMPLE } from '../common/examples.js';
import { uuidParam } from '../common/uuid.pipe.js';
import {
  CreateScoreConfigDto,
  CreateScoreDto,
  CreateScoresBatchDto,
  ListScoresQueryDto,
  ScoreBatchResultDto,
  ScoreConfigBodyDto,
  ScoreConfigDto,
  ScoreConfigListDto,
  ScoreDto,
  ScoreListDto,
  UpdateScoreDto,
} from './scores.dto.js';
import { ScoresService } from './scores.service.js';

/** The project of a project-key route (the guard admits nothing else here). */
const projectOf = (p: Principal): string => {
  if (p.kind !== 'project') throw new Error('score routes take project keys only');
  return p.projectId;
};

/**
 * A score id; `/v1/scores/batch` (POST only) and `/v1/scores/summary` (GET only) are not ones:
 * other methods on them answer 405.
 */
const scoreIdParam: PipeTransform<string, Promise<string>> = {
  transform: async (value, metadata) => {
    if (value === 'batch') throw new AppError(405, 'METHOD_NOT_ALLOWED', '/v1/scores/batch takes POST only');
    if (value === 'summary') throw new AppError(405, 'METHOD_NOT_ALLOWED', '/v1/scores/summary takes GET only');
    return (await uuidParam.transform(value, metadata)) ?? value;
  },
};

const SCORE_EXAMPLE = { runId: EXAMPLE.runId, name: 'correct', value: false, comment: 'The phone case is not a competitor.', source: 'human' };

@ApiTags('scores')
@Controller('v1')
export class ScoresController {
  constructor(private readonly scores: ScoresService) {}

  @Post('scores')
  @ProjectRoute('feedback')
  @ApiOperation({
    summary: 'Score a run, a step or one candidate',
    description:
      'Targets a run (`runId`), a step (`stepId`) or a candidate (`stepId` and `key`). A name with a configuration ' +
      '(score-configs) is validated against it. Retrying with the same `id` answers the score already made. ' +
      'Needs the `feedback` scope (which `ingest` and `admin` keys have too).',
  })
  @ApiBodyExamples(CreateScoreDto, { runScore: { summary: 'A person marks a run’s selection wrong', value: SCORE_EXAMPLE } })
  @ApiCreatedResponse({ type: ScoreDto })
  @ApiErrors(400, 404, 409)
  createScore(@CurrentPrincipal() principal: Principal, @Body() body: CreateScoreDto): Promise<ScoreDto> {
    return this.scores.create(projectOf(principal), body);
  }

  @Post('scores/batch')
  @ProjectRoute('feedback')
  @ApiOperation({ summary: 'Create many scores at once, all or none', description: 'As createScore, for each; one bad score rejects the batch.' })
  @ApiBodyExamples(CreateScoresBatchDto, { one: { summary: 'One run score', value: { scores: [SCORE_EXAMPLE] } } })
  @ApiCreatedResponse({ type: ScoreBatchResultDto })
  @ApiErrors(400, 404, 409, 413)
  async createScores(@CurrentPrincipal() principal: Principal, @Body() body: CreateScoresBatchDto): Promise<ScoreBatchResultDto> {
    return { items: await this.scores.createBatch(projectOf(principal), body.scores) };
  }

  @Get('scores')
  @ProjectRoute('read')
  @ApiOperation({ summary: 'List scores, newest first', description: 'Filter by run, step, candidate key, name and source.' })
  @ApiOkResponse({ type: ScoreListDto })
  @ApiErrors(400)
  listScores(@CurrentPrincipal() principal: Principal, @Query() query: ListScoresQueryDto): Promise<ScoreListDto> {
    return this.scores.list(projectOf(principal), query);
  }

  @Patch('scores/:id')
  @ProjectRoute('ingest')
  @ApiIdParam('id', 'Score id.')
  @ApiOperation({ summary: 'Change a score’s value, comment or metadata', description: 'A new value is validated against the name’s configuration.' })
  @ApiBodyExamples(UpdateScoreDto, { comment: { summary: 'Add a comment', value: { comment: 'Checked again: still wrong.' } } })
  @ApiOkResponse({ type: ScoreDto })
  @ApiErrors(400, 404)
  updateScore(@CurrentPrincipal() principal: Principal, @Param('id', scoreIdParam) id: string, @Body() body: UpdateScoreDto): Promise<ScoreDto> {
    return this.scores.update(projectOf(principal), id, body);
  }

  @Delete('scores/:id')
  @HttpCode(204)
  @ProjectRoute('delete')
  @ApiIdParam('id', 'Score id.')
  @ApiOperation({ summary: 'Delete a score' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(400, 404)
  deleteScore(@CurrentPrincipal() principal: Principal, @Param('id', scoreIdParam) id: string): Promise<void> {
    return this.scores.delete(projectOf(principal), id);
  }

  @Get('score-configs')
  @ProjectRoute('read')
  @ApiOperation({ summary: 'List the project’s score configurations' })
  @ApiOkResponse({ type: ScoreConfigListDto })
  async listScoreConfigs(@CurrentPrincipal() principal: Principal): Promise<ScoreConfigListDto> {
    return { items: await this.scores.listConfigs(projectOf(principal)) };
  }

  @Post('score-configs')
  @ProjectRoute('admin')
  @ApiOperation({
    summary: 'Configure a score name: its data type and range or labels',
    description: 'Scores with this name are then validated against it (400 otherwise). Names without a configuration are free.',
  })
  @ApiBodyExamples(CreateScoreConfigDto, {
    categorical: { summary: 'A verdict with three labels', value: { name: 'verdict', dataType: 'categorical', labels: ['good', 'bad', 'unsure'] } },
  })
  @ApiCreatedResponse({ type: ScoreConfigDto })
  @ApiErrors(400, 409)
  createScoreConfig(@CurrentPrincipal() principal: Principal, @Body() body: CreateScoreConfigDto): Promise<ScoreConfigDto> {
    return this.scores.createConfig(projectOf(principal), body);
  }

  @Put('score-configs/:name')
  @ProjectRoute('admin')
  @ApiParam({ name: 'name', description: 'Score name.', type: String })
  @ApiOperation({ summary: 'Replace a score name’s configuration' })
  @ApiBodyExamples(ScoreConfigBodyDto, {
    categorical: { summary: 'Four labels', value: { dataType: 'categorical', labels: ['good', 'bad', 'unsure', 'spam'] } },
  })
  @ApiOkResponse({ type: ScoreConfigDto })
  @ApiErrors(400, 404)
  replaceScoreConfig(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Body() body: ScoreConfigBodyDto): Promise<ScoreConfigDto> {
    return this.scores.replaceConfig(projectOf(principal), name, body);
  }

  @Delete('score-configs/:name')
  @HttpCode(204)
  @ProjectRoute('admin')
  @ApiParam({ name: 'name', description: 'Score name.', type: String })
  @ApiOperation({ summary: 'Delete a score name’s configuration (its scores stay)' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(404)
  deleteScoreConfig(@CurrentPrincipal() principal: Principal, @Param('name') name: string): Promise<void> {
    return this.scores.deleteConfig(projectOf(principal), name);
  }
}
