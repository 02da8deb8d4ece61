import type { Queryable } from './queryable.js';
import { query, type Sql, sql } from './sql.js';

/**
 * The rollup score summaries and series read, `score_values_hourly`: per project, pipeline,
 * hour of the run's start, score name, target (`run`, `step` or `candidate`) and value, how many
 * scores carry that value (`n`). Every count, mean, minimum, maximum, label count and histogram
 * of a summary follows from it. Kept exact by the statements that write scores, from the rows
 * they return (old and new where they update): creation, update, deletion, and the deletion of
 * runs or of a key; retention drops its day partitions with the scores'.
 */

/**
 * CTEs (each led by a comma, to follow a statement's own) moving the rollup by the score rows of
 * each source, counted `sign` times. A source has run_id, run_started_at, name, step_id,
 * candidate_key, data_type and the value columns. The pipeline is the run's.
 */
export function scoreValueRollup(projectId: string, sources: { from: string; sign: 1 | -1 }[]): Sql {
  const rows = sources
    .map(
      ({ from, sign }) => sql`SELECT x.run_id, x.run_started_at, x.name, x.step_id, x.candidate_key, x.data_type, x.value_number, x.value_bool, x.value_label,
             ${sql.raw(String(sign))}::int AS n FROM ${sql.raw(from)} x`,
    )
    .reduce((a, b) => sql`${a} UNION ALL ${b}`);
  return sql`,
  score_value_delta AS (${rows}),
  score_value_rollup AS (
    INSERT INTO score_values_hourly AS t (project_id, pipeline, hour, name, target, data_type, value_key, value_number, value_bool, value_label, n)
    SELECT ${projectId}::uuid, r.pipeline, date_trunc('hour', d.run_started_at, 'UTC'), d.name,
           CASE WHEN d.step_id IS NULL THEN 'run' WHEN d.candidate_key IS NULL THEN 'step' ELSE 'candidate' END, d.data_type,
           COALESCE(d.value_label, d.value_bool::text, d.value_number::text, ''), d.value_number, d.value_bool, d.value_label, sum(d.n)::int
    FROM score_value_delta d JOIN runs r ON r.project_id = ${projectId}::uuid AND r.id = d.run_id
    GROUP BY r.pipeline, 3, d.name, 5, d.data_type, 7, d.value_number, d.value_bool, d.value_label
    HAVING sum(d.n) <> 0
    ON CONFLICT (project_id, pipeline, hour, name, target, data_type, value_key) DO UPDATE SET n = t.n + EXCLUDED.n
  )`;
}

/** Fills a project's rollup from its stored scores (the migration that added it, and the seed script). */
export async function rebuildScoreValues(db: Queryable, projectId: string): Promise<void> {
  await query(db, sql`DELETE FROM score_values_hourly WHERE project_id = ${projectId}::uuid`);
  await query(db, sql`WITH s AS (SELECT * FROM scores WHERE project_id = ${projectId}::uuid)${scoreValueRollup(projectId, [{ from: 's', sign: 1 }])} SELECT 1`);
}
