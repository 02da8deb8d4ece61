import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ProjectRoute } from '../common/api-docs.js';
import { IngestBatchDto, IngestResponseDto } from './ingest.dto.js';
import { Metrics } from '../metrics/metrics.service.js';
import { IngestService } from './ingest.service.js';

@ApiTags('ingest')
@Controller('v1/ingest')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    private readonly metrics: Metrics,
  ) {}

  @Post()
  @HttpCode(207)
  @ProjectRoute('ingest')
  @ApiOperation({
    summary: 'Apply a batch of events (run/step creates and updates, candidate batches) with a result per event',
    description:
      'Events are checked in order, each on its own: one bad event fails alone, an event whose parent does not exist (yet) gets a 404 to retry. ' +
      'An event id applied before is not applied again (its earlier status is returned); entity ids upsert, so replaying a batch changes nothing.',
  })
  @ApiResponse({ status: 207, type: IngestResponseDto, description: 'One result per event, in order.' })
  @ApiErrors(400, 413)
  async ingestEvents(@ProjectId() projectId: string, @Body() body: IngestBatchDto): Promise<IngestResponseDto> {
    const results = await this.ingest.ingest(projectId, body);
    this.metrics.countIngest(body.events, results);
    return { results };
  }
}
