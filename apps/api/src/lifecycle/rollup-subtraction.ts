import { type Sql, sql } from '../database/sql.js';
import { FAILED_STATUSES } from '../domain/vocabulary.js';

/**
 * The one place that turns rows a deletion removed into negative deltas on the rollup tables
 * (step_stats_*, step_durations_*, reason_counts_*, run_stats_*, hourly and daily), so pipeline
 * analytics never counts data that is gone. The statements that maintain the rollups count a row
 * at its current values in the hour of its start; subtracting the removed rows at those same values
 * takes exactly their contribution away.
 *
 * A relation of removed rows (a `DELETE … RETURNING` CTE, or a CTE over one) has the columns of
 * its kind:
 * - `steps`: project_id, pipeline, started_at, name, status, duration_ms, elimination_ratio;
 * - `reasons`: project_id, pipeline, started_at, name, reason (rejected candidates of filter
 *   steps, with their step's columns);
 * - `runs`: project_id, pipeline, started_at, status.
 */
export type RemovedKind = 'steps' | 'reasons' | 'runs';

interface Family {
  table: 'step_stats' | 'step_durations' | 'reason_counts' | 'run_stats';
  keys: string[];
  sums: string[];
  /** The removed rows at hour grain, each counted -1 times. */
  source: (relation: string) => string;
}

const FAILED = FAILED_STATUSES.map((s) => `'${s}'`).join(', ');
const HOUR = `date_trunc('hour', started_at, 'UTC') AS hour`;

const FAMILIES: Record<RemovedKind, Family[]> = {
  steps: [
    {
      table: 'step_stats',
      keys: ['name'],
      sums: ['steps', 'failed', 'finished', 'ratio_sum', 'ratio_n'],
      source: (r) => `SELECT project_id, pipeline, ${HOUR}, name, -1 AS steps, -((status IN (${FAILED}))::int) AS failed,
        -((status <> 'running')::int) AS finished, -coalesce(elimination_ratio, 0) AS ratio_sum, -((elimination_ratio IS NOT NULL)::int) AS ratio_n
        FROM ${r}`,
    },
    {
      table: 'step_durations',
      keys: ['name', 'bucket'],
      sums: ['count'],
      source: (r) => `SELECT project_id, pipeline, ${HOUR}, name, xray_duration_bucket(duration_ms) AS bucket, -1 AS count
        FROM ${r} WHERE duration_ms IS NOT NULL`,
    },
  ],
  reasons: [
    {
      table: 'reason_counts',
      keys: ['name', 'reason'],
      sums: ['count'],
      source: (r) => `SELECT project_id, pipeline, ${HOUR}, name, reason, -1 AS count FROM ${r}`,
    },
  ],
  runs: [
    {
      table: 'run_stats',
      keys: ['status'],
      sums: ['count'],
      source: (r) => `SELECT project_id, pipeline, ${HOUR}, status, -1 AS count FROM ${r}`,
    },
  ],
};

/**
 * CTEs, each starting with `, `, to append to a `WITH` that defines `relation`: they subtract its
 * rows from every rollup table its kind counts in (the delta grouped by hour once, then upserted
 * into the hourly table and, regrouped by day, into the daily one).
 */
export function rollupSubtraction(kind: RemovedKind, relation: string): Sql {
  const ctes = FAMILIES[kind].map((f) => {
    const keys = f.keys.join(', ');
    const delta = `${relation}_${f.table}`;
    const upsert = (grain: 'hour' | 'day') => {
      const time = grain === 'hour' ? 'hour' : `date_trunc('day', hour, 'UTC')`;
      return `INSERT INTO ${f.table}_${grain === 'hour' ? 'hourly' : 'daily'} AS t (project_id, pipeline, ${grain}, ${keys}, ${f.sums.join(', ')})
      SELECT project_id, pipeline, ${time}, ${keys}, ${f.sums.map((s) => `sum(${s})`).join(', ')}
      FROM ${delta} GROUP BY project_id, pipeline, 3, ${keys}
      ON CONFLICT (project_id, pipeline, ${grain}, ${keys}) DO UPDATE SET ${f.sums.map((s) => `${s} = t.${s} + EXCLUDED.${s}`).join(', ')}`;
    };
    return `, ${delta} AS (
      SELECT project_id, pipeline, hour, ${keys}, ${f.sums.map((s) => `sum(${s}) AS ${s}`).join(', ')}
      FROM (${f.source(relation)}) r GROUP BY project_id, pipeline, hour, ${keys}
    ), ${delta}_hourly AS (${upsert('hour')}), ${delta}_daily AS (${upsert('day')})`;
  });
  return sql.raw(ctes.join('\n'));
}
