import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ProjectRoute } from '../common/api-docs.js';
import { ScoreRejectionsDto, ScoreRejectionsQueryDto, ScoreSummaryDto, ScoreSummaryQueryDto } from './score-analytics.dto.js';
import { ScoreAnalyticsService } from './score-analytics.service.js';

@Controller('v1')
export class ScoreAnalyticsController {
  constructor(private readonly analytics: ScoreAnalyticsService) {}

  @Get('scores/summary')
  @ApiTags('scores')
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'Summarize scores per name: count, mean, min/max, distribution, by day',
    description:
      'Scores of runs started in [`from`, `to`) (default: the last 7 days), optionally of one pipeline, one name and one kind of target. ' +
      'Numeric scores get a 10-bucket histogram, boolean and categorical ones label counts (`true`/`false` for booleans); means of booleans are the share of `true`.',
  })
  @ApiOkResponse({ type: ScoreSummaryDto })
  @ApiErrors(400)
  getScoreSummary(@ProjectId() projectId: string, @Query() query: ScoreSummaryQueryDto): Promise<ScoreSummaryDto> {
    return this.analytics.summary(projectId, query);
  }

  @Get('analytics/score-rejections')
  @ApiTags('analytics')
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'Which step rejects what users scored good: per step name, rejected candidates with a good score',
    description:
      'For candidate scores named `name` in the pipeline’s runs started in [`from`, `to`) (default: the last 7 days): each scored item (a run and a key, its latest score of that name counting) ' +
      'is good when its value is `good` (`true`/`false` or a label) or at least `min`. Per step name: how many scored items steps of that name rejected in the same run (`rejected`), how many of those were good ' +
      '(`rejectedGood`, `share`), with example keys. A score on any candidate of the item in the run counts, so an item scored where it was retrieved shows which later filter dropped it. ' +
      '`?pipeline=competitor-selection&name=correct&good=true` points at the filter that rejects items reviewers marked correct.',
  })
  @ApiOkResponse({ type: ScoreRejectionsDto })
  @ApiErrors(400)
  getScoreRejections(@ProjectId() projectId: string, @Query() query: ScoreRejectionsQueryDto): Promise<ScoreRejectionsDto> {
    return this.analytics.rejections(projectId, query);
  }
}
