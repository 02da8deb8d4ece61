import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ProjectRoute } from '../common/api-docs.js';
import { ListPipelinesQueryDto, PipelineListDto } from './pipelines.dto.js';
import { PipelinesService } from './pipelines.service.js';

@ApiTags('runs')
@Controller('v1/pipelines')
export class PipelinesController {
  constructor(private readonly pipelines: PipelinesService) {}

  @Get()
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'List the project’s pipelines with their run counts, most recently run first',
    description: 'For pickers and filters: `?q=selection` finds `competitor-selection`. Reads rollups, so it stays fast on projects with millions of runs.',
  })
  @ApiOkResponse({ type: PipelineListDto })
  @ApiErrors(400)
  listPipelines(@ProjectId() projectId: string, @Query() query: ListPipelinesQueryDto): Promise<PipelineListDto> {
    return this.pipelines.listPipelines(projectId, query);
  }
}
