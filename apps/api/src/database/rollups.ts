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
 *   llm_usage       per (pipeline, hour, step name, model): LLM calls, tokens and cost ('' when a
 *                   step has usage or cost but no model)
 *   model_durations per (pipeline, hour, model, duration bucket): count (latency percentiles)
 *
 * The steps' token and cost deltas also move their runs' totals (runs.total_*), in the same
 * statement (runTotalsCtes).
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
  table: 'step_stats' | 'step_durations' | 'reason_counts' | 'run_stats' | 'llm_usage' | 'model_durations';
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

/** A step version that is an LLM call for the rollups: it has a model, token usage or a cost. */
const isLlm = (c: (column: string) => string) => `(${c('model')} IS NOT NULL OR ${c('usage_total')} IS NOT NULL OR ${c('cost_usd')} IS NOT NULL)`;

/** Step rollups also read: model, usage_input, usage_output, usage_total, usage_cache_read, cost_usd. */
const LLM_USAGE: Family = {
  table: 'llm_usage',
  keys: ['name', 'model'],
  sums: ['calls', 'input_tokens', 'output_tokens', 'total_tokens', 'cache_read_tokens', 'cost_usd'],
  source: (c, sign, from) => `
    SELECT ${c('project_id')} AS project_id, ${c('pipeline')} AS pipeline, ${hourOf(c, 'run_started_at')} AS hour, ${c('name')} AS name,
           coalesce(${c('model')}, '') AS model, ${sign} AS calls,
           ${sign}::bigint * coalesce(${c('usage_input')}, 0) AS input_tokens, ${sign}::bigint * coalesce(${c('usage_output')}, 0) AS output_tokens,
           ${sign}::bigint * coalesce(${c('usage_total')}, 0) AS total_tokens, ${sign}::bigint * coalesce(${c('usage_cache_read')}, 0) AS cache_read_tokens,
           ${sign}::numeric * coalesce(${c('cost_usd')}, 0) AS cost_usd
    FROM ${from} WHERE ${isLlm(c)}`,
  nonZero:
    'sum(calls) <> 0 OR sum(input_tokens) <> 0 OR sum(output_tokens) <> 0 OR sum(total_tokens) <> 0 OR sum(cache_read_tokens) <> 0 OR sum(cost_usd) <> 0',
};

const MODEL_DURATIONS: Family = {
  table: 'model_durations',
  keys: ['model', 'bucket'],
  sums: ['count'],
  source: (c, sign, from) => `
    SELECT ${c('project_id')} AS project_id, ${c('pipeline')} AS pipeline, ${hourOf(c, 'run_started_at')} AS hour, ${c('model')} AS model,
           xray_duration_bucket(${c('duration_ms')}) AS bucket, ${sign} AS count
    FROM ${from} WHERE ${c('model')} IS NOT NULL AND ${c('duration_ms')} IS NOT NULL`,
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

export const ROLLUP_TABLES = [STEP_STATS, STEP_DURATIONS, REASON_COUNTS, RUN_STATS, LLM_USAGE, MODEL_DURATIONS].flatMap((f) => [
  `${f.table}_hourly`,
  `${f.table}_daily`,
]);

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

/**
 * CTEs moving the token and cost totals of the runs of `sources` (step rows with project_id,
 * run_id and the usage and cost columns) by their signed sum. Only runs whose totals change are
 * written: steps that are not model calls never touch their run.
 */
function runTotalsCtes(sources: RollupSource[]): string {
  const rows = sources
    .map(({ from, sign, prefix = '' }) => {
      const c = (column: string) => `${prefix}${column}`;
      return `
    SELECT ${c('project_id')} AS project_id, ${c('run_id')} AS run_id, ${sign}::bigint * coalesce(${c('usage_input')}, 0) AS input,
           ${sign}::bigint * coalesce(${c('usage_output')}, 0) AS output, ${sign}::bigint * coalesce(${c('usage_total')}, 0) AS total,
           ${sign}::numeric * coalesce(${c('cost_usd')}, 0) AS cost
    FROM ${from}`;
    })
    .join('\n    UNION ALL');
  return `,
  run_totals AS (
    SELECT project_id, run_id, sum(input) AS input, sum(output) AS output, sum(total) AS total, sum(cost) AS cost
    FROM (${rows}) r
    GROUP BY project_id, run_id HAVING sum(input) <> 0 OR sum(output) <> 0 OR sum(total) <> 0 OR sum(cost) <> 0
  ),
  run_totals_w AS (
    UPDATE runs rt SET total_input_tokens = rt.total_input_tokens + d.input, total_output_tokens = rt.total_output_tokens + d.output,
                       total_tokens = rt.total_tokens + d.total, total_cost_usd = rt.total_cost_usd + d.cost
    FROM run_totals d WHERE rt.project_id = d.project_id AND rt.id = d.run_id
  )`;
}

/** The deltas steps make (rows with the step rollup columns; see STEP_STATS): rollups and their runs' totals. */
export function stepRollups(sources: RollupSource[]): Sql {
  return sql.raw(
    familyCtes(STEP_STATS, sources) +
      familyCtes(STEP_DURATIONS, sources) +
      familyCtes(LLM_USAGE, sources) +
      familyCtes(MODEL_DURATIONS, sources) +
      runTotalsCtes(sources),
  );
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
export const STEP_ROLLUP_COLUMNS = [
  'project_id',
  'pipeline',
  'run_started_at',
  'name',
  'status',
  'elimination_ratio',
  'duration_ms',
  'run_id',
  'model',
  'usage_input',
  'usage_output',
  'usage_total',
  'usage_cache_read',
  'cost_usd',
];

/** `a.col AS <prefix>col, …` for a RETURNING or SELECT list. */
export function columnsAs(alias: string, columns: string[], prefix = ''): Sql {
  return sql.raw(columns.map((c) => `${alias}.${c} AS ${prefix}${c}`).join(', '));
}

/**
 * A full recomputation of the step, reason and run rollups from the stored rows, for the
 * migration that introduced them (it must keep meaning what it meant then: the LLM rollups came
 * later, see rebuildLlmRollupsStatements): statements that empty the tables and fill them again.
 */
export function rebuildRollupsStatements(): string[] {
  const all = (family: Family, from: string) => familyCtes(family, [{ from, sign: 1 }]);
  return [
    ...[STEP_STATS, STEP_DURATIONS, REASON_COUNTS, RUN_STATS].flatMap((f) => [`DELETE FROM ${f.table}_hourly`, `DELETE FROM ${f.table}_daily`]),
    `WITH s AS (SELECT project_id, pipeline, run_started_at, name, status, elimination_ratio, duration_ms FROM steps)${all(STEP_STATS, 's')}${all(STEP_DURATIONS, 's')} SELECT 1`,
    `WITH c AS (
       SELECT s.project_id, s.pipeline, s.run_started_at, s.name AS step_name, s.type AS step_type, c.decision, c.reason
       FROM candidates c JOIN steps s ON s.project_id = c.project_id AND s.id = c.step_id AND s.run_id = c.run_id AND s.run_started_at = c.run_started_at
       WHERE c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter'
     )${all(REASON_COUNTS, 'c')} SELECT 1`,
    `WITH r AS (SELECT project_id, pipeline, started_at, status FROM runs)${all(RUN_STATS, 'r')} SELECT 1`,
  ];
}

/** The same for the LLM rollups and the runs' token and cost totals. */
export function rebuildLlmRollupsStatements(): string[] {
  const all = (family: Family, from: string) => familyCtes(family, [{ from, sign: 1 }]);
  return [
    ...[LLM_USAGE, MODEL_DURATIONS].flatMap((f) => [`DELETE FROM ${f.table}_hourly`, `DELETE FROM ${f.table}_daily`]),
    `WITH s AS (SELECT ${STEP_ROLLUP_COLUMNS.join(', ')} FROM steps)${all(LLM_USAGE, 's')}${all(MODEL_DURATIONS, 's')} SELECT 1`,
    `UPDATE runs r SET total_input_tokens = coalesce(t.input, 0), total_output_tokens = coalesce(t.output, 0), total_tokens = coalesce(t.total, 0),
            total_cost_usd = coalesce(t.cost, 0)
     FROM runs r2 LEFT JOIN (
       SELECT project_id, run_id, sum(usage_input) AS input, sum(usage_output) AS output, sum(usage_total) AS total, sum(cost_usd) AS cost
       FROM steps GROUP BY project_id, run_id
     ) t ON t.project_id = r2.project_id AND t.run_id = r2.id
     WHERE r.project_id = r2.project_id AND r.id = r2.id`,
  ];
}

/** Deletes the daily rollup rows of days before `before` (retention; the hourly ones leave with their partitions). */
export async function deleteDailyRollupsBefore(db: Queryable, before: Date): Promise<void> {
  for (const table of ROLLUP_TABLES.filter((t) => t.endsWith('_daily'))) await db.query(`DELETE FROM ${table} WHERE day < $1`, [before]);
}
