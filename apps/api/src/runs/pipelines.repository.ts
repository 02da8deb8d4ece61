import { DataSource } from 'typeorm';
import type { Queryable } from '../database/queryable.js';
import { query, sql } from '../database/sql.js';

/**
 * The read behind the pipeline picker. Run counts come from the daily run rollup
 * (run_stats_daily, kept exact by the runs triggers of AddDailyRollups): a few rows per
 * pipeline and day instead of every run. Each pipeline's latest start is one backward step of
 * the (project_id, pipeline, started_at, id) index. Neither grows with the number of runs.
 *
 * Not a Nest provider: PipelinesService builds it, so the runs module's provider list stays as
 * it is (it belongs to the runs module's owner).
 */
export class PipelinesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Pipelines with runs, most recently run first (then by name); `nameContains` is lower case. */
  async listPipelines(
    projectId: string,
    nameContains: string | undefined,
    limit: number,
    db: Queryable = this.dataSource,
  ): Promise<{ name: string; run_count: string; last_run_at: Date | null }[]> {
    // strpos, not LIKE: the text is matched as typed (`%` and `_` are not wildcards).
    const match = nameContains === undefined ? sql`` : sql`AND strpos(lower(pipeline), ${nameContains}) > 0`;
    return query(
      db,
      sql`SELECT p.name, p.run_count,
                 (SELECT max(r.started_at) FROM runs r WHERE r.project_id = ${projectId} AND r.pipeline = p.name) AS last_run_at
          FROM (SELECT pipeline AS name, sum(count) AS run_count FROM run_stats_daily
                WHERE project_id = ${projectId} ${match}
                GROUP BY pipeline HAVING sum(count) > 0) p
          ORDER BY last_run_at DESC NULLS LAST, p.name
          LIMIT ${limit}`,
    );
  }
}
