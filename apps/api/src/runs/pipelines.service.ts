import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { iso } from '../common/dto-helpers.js';
import type { ListPipelinesQueryDto, PipelineListDto } from './pipelines.dto.js';

/**
 * The project's pipelines for a picker. Run counts come from the daily run rollup
 * (run_stats_daily, kept exact by the runs triggers of AddDailyRollups): a few rows per
 * pipeline and day instead of every run. Each pipeline's latest start is one backward step of
 * the (project_id, pipeline, started_at, id) index. Neither grows with the number of runs.
 */
@Injectable()
export class PipelinesService {
  constructor(private readonly dataSource: DataSource) {}

  async listPipelines(projectId: string, q: ListPipelinesQueryDto): Promise<PipelineListDto> {
    const params: unknown[] = [projectId, q.limit ?? 200];
    let match = '';
    if (q.q !== undefined && q.q !== '') {
      // strpos, not LIKE: the text is matched as typed (`%` and `_` are not wildcards).
      params.push(q.q.toLowerCase());
      match = `AND strpos(lower(pipeline), $${params.length}) > 0`;
    }
    const rows: { name: string; run_count: string; last_run_at: Date | null }[] = await this.dataSource.query(
      `SELECT p.name, p.run_count,
              (SELECT max(r.started_at) FROM runs r WHERE r.project_id = $1 AND r.pipeline = p.name) AS last_run_at
       FROM (SELECT pipeline AS name, sum(count) AS run_count FROM run_stats_daily
             WHERE project_id = $1 ${match}
             GROUP BY pipeline HAVING sum(count) > 0) p
       ORDER BY last_run_at DESC NULLS LAST, p.name
       LIMIT $2`,
      params,
    );
    return { items: rows.map((r) => ({ name: r.name, runCount: Number(r.run_count), lastRunAt: iso(r.last_run_at) })) };
  }
}
