import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { iso } from '../common/dto-helpers.js';
import type { ListPipelinesQueryDto, PipelineListDto } from './pipelines.dto.js';
import { PipelinesRepository } from './pipelines.repository.js';

/** The project's pipelines for a picker (see PipelinesRepository for why it stays fast). */
@Injectable()
export class PipelinesService {
  private readonly repository: PipelinesRepository;

  constructor(dataSource: DataSource) {
    this.repository = new PipelinesRepository(dataSource);
  }

  async listPipelines(projectId: string, q: ListPipelinesQueryDto): Promise<PipelineListDto> {
    const nameContains = q.q !== undefined && q.q !== '' ? q.q.toLowerCase() : undefined;
    const rows = await this.repository.listPipelines(projectId, nameContains, q.limit ?? 200);
    return { items: rows.map((r) => ({ name: r.name, runCount: Number(r.run_count), lastRunAt: iso(r.last_run_at) })) };
  }
}
