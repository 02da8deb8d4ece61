import type { Queryable } from './queryable.js';
import { type Sql, sql } from './sql.js';

/**
 * The rollup tables, kept exact by the writers' own statements (no triggers: a distributed
 * engine cannot run them, and a trigger's per-statement join is a cost the writer already paid).
 * A statement that inserts, updates or deletes runs, steps or candidates returns the rows it
 * changed (old and new values where it updated) and appends, as further CTEs, the signed deltas
 * those rows make to each rollup: the hourly table and, regrouped, the daily one.
 *
 * Old values are read by a CTE that locks the rows (SELECT … FOR UPDATE, wrapped in `SELECT * FROM
 * (…) locked`: Citus 13 ships a CTE whose own level locks rows to the workers in a format they
 * misread, a subquery's lock it handles) and must run before
 * the statement's write: a row the same statement has already written is skipped by a later
 * FOR UPDATE. An UPDATE joins that CTE (so it runs first); an upsert's SELECT waits for it with
 * `WHERE (SELECT count(*) FROM old) >= 0`.
 *
 * Every rollup is keyed by the hour (or day, UTC) of the *run's* start, the time a run's steps
 * and candidates are partitioned by, so retention drops a day of data and of rollups together
 * and an answer never counts data that is gone.
 *
 *   step_stats      per (pipeline, hour, step name): steps, failed, finished, ratio sum and count
 *   step_durations  per (pipeline, hour, step name, duration bucket): count (for percentiles)
 *   reason_counts   per (pipeline, hour, step name, reason): rejected candidates of filter steps
 *   run_stats       per (pipeline, hour, status): runs
 */

/**
 * Rows of a relation of the statement (a CTE's name), counted `sign` times. `prefix` is put
 * before each column name, for an UPDATE's RETURNING that carries old values as `o_status`, ….
 */
export interface RollupSource {
  from: string;
  sign: 1 | -1;
  prefix?: string;
}

interface Family {
  table: 'step_stats' | 'step_durations' | 'reason_counts' | 'run_stats';
  keys: string[];
  sums: string[];
  /** The rows of one source at hour grain; `c(x)` is column x of the source. */
  source: (c: (column: string) => string, sign: number, from: string) => string;
  /** A group whose sums are all zero changes nothing and is not written (no row lock taken). */
  nonZero: string;
}

const hourOf = (c: (column: string) => string, column: string) => `date_trunc('hour', ${c(column)}, 'UTC')`;

/** Step rollups read: project_id, pipeline, run_started_at, name, status, elimination_ratio, duration_ms. */
const STEP_STATS: Family = {
  table: 'step_stats',
  keys: ['name'],
  sums: ['steps', 'failed', 'finished', 'ratio_sum', 'ratio_n'],
  source: (c, sign, from) => `
    SELECT ${c('project_id')} AS project_id, ${c('pipeline')} AS pipeline, ${hourOf(c, 'run_started_at')} AS hour, ${c('name')} AS name,
           ${sign} AS steps, ${sign} * (${c('status')} IN ('error', 'timed_out'))::int AS failed,
           ${sign} * (${c('status')} <> 'running')::int AS finished,
           ${sign} * coalesce(${c('elimination_ratio')}, 0) AS ratio_sum, ${sign} * (${c('elimination_ratio')} IS NOT NULL)::int AS ratio_n
    FROM ${from}`,
  nonZero: 'sum(steps) <> 0 OR sum(failed) <> 0 OR sum(finished) <> 0 OR sum(ratio_sum) <> 0 OR sum(ratio_n) <> 0',
};

const STEP_DURATIONS: Family = {
  table: 'step_durations',
  keys: ['name', 'bucket'],
  sums: ['count'],
  source: (c, sign, from) => `
    SELECT ${c('project_id')} AS project_id, ${c('pipeline')} AS pipeline, ${hourOf(c, 'run_started_at')} AS hour, ${c('name')} AS name,
           xray_duration_bucket(${c('duration_ms')}) AS bucket, ${sign} AS count
    FROM ${from} WHERE ${c('duration_ms')} IS NOT NULL`,
  nonZero: 'sum(count) <> 0',
};

/** Reason rollups read: project_id, pipeline, run_started_at, step_name, step_type, decision, reason. */
const REASON_COUNTS: Family = {
  table: 'reason_counts',
  keys: ['name', 'reason'],
  sums: ['count'],
  source: (c, sign, from) => `
    SELECT ${c('project_id')} AS project_id, ${c('pipeline')} AS pipeline, ${hourOf(c, 'run_started_at')} AS hour, ${c('step_name')} AS name,
           ${c('reason')} AS reason, ${sign} AS count
    FROM ${from} WHERE ${c('decision')} = 'rejected' AND ${c('reason')} IS NOT NULL AND ${c('step_type')} = 'filter'`,
  nonZero: 'sum(count) <> 0',
};

/** Run rollups read: project_id, pipeline, started_at, status. */
const RUN_STATS: Family = {
  table: 'run_stats',
  keys: ['status'],
  sums: ['count'],
  source: (c, sign, from) => `
    SELECT ${c('project_id')} AS project_id, ${c('pipeline')} AS pipeline, ${hourOf(c, 'started_at')} AS hour, ${c('status')} AS status,
           ${sign} AS count
    FROM ${from}`,
  nonZero: 'sum(count) <> 0',
};

export const ROLLUP_TABLES = [STEP_STATS, STEP_DURATIONS, REASON_COUNTS, RUN_STATS].flatMap((f) => [`${f.table}_hourly`, `${f.table}_daily`]);

/**
 * CTEs (each led by a comma, to follow a statement's own CTEs) applying the signed deltas of
 * `sources` to one family's hourly and daily tables, in one pass: the delta grouped by hour,
 * upserted into the hourly table and, regrouped by day, into the daily one. A statement applies
 * each family once (its CTE names are the family's).
 */
function familyCtes(family: Family, sources: RollupSource[]): string {
  const name = `rollup_${family.table}`;
  const keys = family.keys.join(', ');
  const rows = sources.map((s) => family.source((column) => `${s.prefix ?? ''}${column}`, s.sign, s.from)).join('\n    UNION ALL');
  const upsert = (grain: 'hour' | 'day') => {
    const time = grain === 'hour' ? 'hour' : `date_trunc('day', hour, 'UTC')`;
    return `INSERT INTO ${family.table}_${grain === 'hour' ? 'hourly' : 'daily'} AS t (project_id, pipeline, ${grain}, ${keys}, ${family.sums.join(', ')})
      SELECT project_id, pipeline, ${time}, ${keys}, ${family.sums.map((s) => `sum(${s})`).join(', ')}
      FROM ${name} GROUP BY project_id, pipeline, 3, ${keys}
      ON CONFLICT (project_id, pipeline, ${grain}, ${keys}) DO UPDATE SET ${family.sums.map((s) => `${s} = t.${s} + EXCLUDED.${s}`).join(', ')}`;
  };
  return `,
  ${name} AS (
    SELECT project_id, pipeline, hour, ${keys}, ${family.sums.map((s) => `sum(${s}) AS ${s}`).join(', ')}
    FROM (${rows}) r
    GROUP BY project_id, pipeline, hour, ${keys} HAVING ${family.nonZero}
  ),
  ${name}_h AS (${upsert('hour')}),
  ${name}_d AS (${upsert('day')})`;
}

/** The deltas steps make (rows with the step rollup columns; see STEP_STATS). */
export function stepRollups(sources: RollupSource[]): Sql {
  return sql.raw(familyCtes(STEP_STATS, sources) + familyCtes(STEP_DURATIONS, sources));
}

/** The deltas candidates make to the reasons rollup (rows with the reason rollup columns). */
export function reasonRollups(sources: RollupSource[]): Sql {
  return sql.raw(familyCtes(REASON_COUNTS, sources));
}

/** The deltas runs make (rows with project_id, pipeline, started_at, status). */
export function runRollups(sources: RollupSource[]): Sql {
  return sql.raw(familyCtes(RUN_STATS, sources));
}

/** The columns step rollups read, for a RETURNING list (`prefix` + table alias). */
export const STEP_ROLLUP_COLUMNS = ['project_id', 'pipeline', 'run_started_at', 'name', 'status', 'elimination_ratio', 'duration_ms'];

/** `a.col AS <prefix>col, …` for a RETURNING or SELECT list. */
export function columnsAs(alias: string, columns: string[], prefix = ''): Sql {
  return sql.raw(columns.map((c) => `${alias}.${c} AS ${prefix}${c}`).join(', '));
}

/**
 * A full recomputation of every rollup from the stored rows, for the migration that introduced
 * them and for tests that check the writers kept them exact: statements that empty the tables
 * and fill them again.
 */
export function rebuildRollupsStatements(): string[] {
  const all = (family: Family, from: string) => familyCtes(family, [{ from, sign: 1 }]);
  return [
    ...ROLLUP_TABLES.map((t) => `DELETE FROM ${t}`),
    `WITH s AS (SELECT project_id, pipeline, run_started_at, name, status, elimination_ratio, duration_ms FROM steps)${all(STEP_STATS, 's')}${all(STEP_DURATIONS, 's')} SELECT 1`,
    `WITH c AS (
       SELECT s.project_id, s.pipeline, s.run_started_at, s.name AS step_name, s.type AS step_type, c.decision, c.reason
       FROM candidates c JOIN steps s ON s.project_id = c.project_id AND s.id = c.step_id AND s.run_id = c.run_id AND s.run_started_at = c.run_started_at
       WHERE c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter'
     )${all(REASON_COUNTS, 'c')} SELECT 1`,
    `WITH r AS (SELECT project_id, pipeline, started_at, status FROM runs)${all(RUN_STATS, 'r')} SELECT 1`,
  ];
}

/** Deletes the daily rollup rows of days before `before` (retention; the hourly ones leave with their partitions). */
export async function deleteDailyRollupsBefore(db: Queryable, before: Date): Promise<void> {
  for (const table of ROLLUP_TABLES.filter((t) => t.endsWith('_daily'))) await db.query(`DELETE FROM ${table} WHERE day < $1`, [before]);
}
