import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Daily rollups beside the hourly ones, and rollups of runs, so pipeline analytics reads a
 * number of rows that grows with the days in its range rather than with the hours (a 30-day
 * range read ~50,000 hourly duration rows of a busy pipeline; it now reads whole days from the
 * daily tables and only the partial days at its edges from the hourly ones).
 *
 * - step_stats_daily, step_durations_daily, reason_counts_daily: the hourly tables' columns
 *   with `day` (UTC) in place of `hour`.
 * - run_stats_hourly, run_stats_daily: runs per (project, pipeline, hour or day of start,
 *   status), so run counts and the time series no longer scan the runs of the range.
 *
 * Each trigger computes its delta once (grouped by hour) and writes it to the hourly table and,
 * regrouped by day, to the daily one, in one statement. The primary keys carry the summed
 * columns (INCLUDE), so every range read is an index-only scan without a second index to keep.
 */
export class AddDailyRollups1795510800000 implements MigrationInterface {
  name = 'AddDailyRollups1795510800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "run_stats_hourly" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        "status" text NOT NULL,
        "count" integer NOT NULL,
        CONSTRAINT "PK_run_stats_hourly" PRIMARY KEY ("project_id", "pipeline", "hour", "status") INCLUDE ("count")
      )
    `);
    for (const family of FAMILIES) {
      await queryRunner.query(`
        CREATE TABLE "${family.table}_daily" (
          "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
          "pipeline" text NOT NULL,
          "day" timestamptz NOT NULL,
          ${family.keys.map((k) => `"${k}" ${family.types[k]} NOT NULL,`).join('\n          ')}
          ${family.sums.map((s) => `"${s}" ${family.types[s]} NOT NULL,`).join('\n          ')}
          CONSTRAINT "PK_${family.table}_daily" PRIMARY KEY ("project_id", "pipeline", "day", ${family.keys.map((k) => `"${k}"`).join(', ')})
            INCLUDE (${family.sums.map((s) => `"${s}"`).join(', ')})
        )
      `);
    }
    for (const fn of TRIGGER_FUNCTIONS) {
      for (const op of ['insert', 'update'] as const) await queryRunner.query(triggerFunction(fn, op, ['hour', 'day']));
    }
    await queryRunner.query(`
      CREATE TRIGGER "runs_rollup_insert" AFTER INSERT ON "runs"
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_runs_rollup_insert"()
    `);
    await queryRunner.query(`
      CREATE TRIGGER "runs_rollup_update" AFTER UPDATE ON "runs"
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_runs_rollup_update"()
    `);

    // Backfill: runs from the runs table, the daily step tables from the hourly ones.
    await queryRunner.query(`
      INSERT INTO run_stats_hourly (project_id, pipeline, hour, status, count)
      SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), status, count(*) FROM runs GROUP BY 1, 2, 3, 4
    `);
    for (const family of FAMILIES) {
      const cols = ['project_id', 'pipeline', ...family.keys];
      await queryRunner.query(`
        INSERT INTO ${family.table}_daily (${[...cols.slice(0, 2), 'day', ...family.keys, ...family.sums].join(', ')})
        SELECT project_id, pipeline, date_trunc('day', hour, 'UTC'), ${family.keys.join(', ')}, ${family.sums.map((s) => `sum(${s})`).join(', ')}
        FROM ${family.table}_hourly GROUP BY project_id, pipeline, 3, ${family.keys.join(', ')}
      `);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "runs_rollup_update" ON "runs"`);
    await queryRunner.query(`DROP TRIGGER "runs_rollup_insert" ON "runs"`);
    // The step and candidate triggers go back to writing the hourly tables only.
    for (const fn of TRIGGER_FUNCTIONS.filter((f) => f !== 'runs')) {
      for (const op of ['insert', 'update'] as const) await queryRunner.query(triggerFunction(fn, op, ['hour']));
    }
    await queryRunner.query(`DROP FUNCTION "xray_runs_rollup_update"()`);
    await queryRunner.query(`DROP FUNCTION "xray_runs_rollup_insert"()`);
    for (const family of [...FAMILIES].reverse()) await queryRunner.query(`DROP TABLE "${family.table}_daily"`);
    await queryRunner.query(`DROP TABLE "run_stats_hourly"`);
  }
}

/** One rollup: its source rows (at hour grain, signed), grouping keys and summed columns. */
interface Family {
  table: 'step_stats' | 'step_durations' | 'reason_counts' | 'run_stats';
  /** The trigger functions' names: xray_<fn>_rollup_insert / _update. */
  fn: string;
  keys: string[];
  sums: string[];
  types: Record<string, string>;
  /** Rows of a transition table at hour grain, each counted `sign` times. */
  source: (sign: 1 | -1, rows: 'new_rows' | 'old_rows') => string;
  /** A delta group that sums to zero here changes nothing and is not written. */
  nonZero?: string;
}

const FAMILIES: Family[] = [
  {
    table: 'step_stats',
    fn: 'steps',
    keys: ['name'],
    sums: ['steps', 'failed', 'finished', 'ratio_sum', 'ratio_n'],
    types: { name: 'text', steps: 'integer', failed: 'integer', finished: 'integer', ratio_sum: 'double precision', ratio_n: 'integer' },
    source: (sign, rows) => `
      SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC') AS hour, name, ${sign} AS steps,
             ${sign} * (status IN ('error', 'timed_out'))::int AS failed, ${sign} * (status <> 'running')::int AS finished,
             ${sign} * coalesce(elimination_ratio, 0) AS ratio_sum, ${sign} * (elimination_ratio IS NOT NULL)::int AS ratio_n
      FROM ${rows}`,
  },
  {
    table: 'step_durations',
    fn: 'steps',
    keys: ['name', 'bucket'],
    sums: ['count'],
    types: { name: 'text', bucket: 'smallint', count: 'integer' },
    source: (sign, rows) => `
      SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC') AS hour, name, xray_duration_bucket(duration_ms) AS bucket, ${sign} AS count
      FROM ${rows} WHERE duration_ms IS NOT NULL`,
    nonZero: 'sum(count) <> 0',
  },
  {
    table: 'reason_counts',
    fn: 'reasons',
    keys: ['name', 'reason'],
    sums: ['count'],
    types: { name: 'text', reason: 'text', count: 'integer' },
    source: (sign, rows) => `
      SELECT s.project_id, s.pipeline, date_trunc('hour', s.started_at, 'UTC') AS hour, s.name, c.reason, ${sign} AS count
      FROM ${rows} c JOIN steps s ON s.id = c.step_id
      WHERE c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter'`,
    nonZero: 'sum(count) <> 0',
  },
  {
    table: 'run_stats',
    fn: 'runs',
    keys: ['status'],
    sums: ['count'],
    types: { status: 'text', count: 'integer' },
    source: (sign, rows) => `SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC') AS hour, status, ${sign} AS count FROM ${rows}`,
    nonZero: 'sum(count) <> 0',
  },
];

/**
 * One statement per rollup table pair: the delta of the transition tables grouped by hour
 * (CTE `d`), upserted into the hourly table and, regrouped by day, into the daily one.
 */
function rollupStatement(family: Family, op: 'insert' | 'update', grains: ('hour' | 'day')[]): string {
  const keys = family.keys.join(', ');
  const source = op === 'insert' ? family.source(1, 'new_rows') : `${family.source(1, 'new_rows')}\n      UNION ALL ${family.source(-1, 'old_rows')}`;
  const upsert = (grain: 'hour' | 'day') => {
    const time = grain === 'hour' ? 'hour' : `date_trunc('day', hour, 'UTC')`;
    return `INSERT INTO ${family.table}_${grain === 'hour' ? 'hourly' : 'daily'} AS t (project_id, pipeline, ${grain}, ${keys}, ${family.sums.join(', ')})
      SELECT project_id, pipeline, ${time}, ${keys}, ${family.sums.map((s) => `sum(${s})`).join(', ')}
      FROM d GROUP BY project_id, pipeline, 3, ${keys}
      ON CONFLICT (project_id, pipeline, ${grain}, ${keys}) DO UPDATE SET ${family.sums.map((s) => `${s} = t.${s} + EXCLUDED.${s}`).join(', ')}`;
  };
  const writes = grains.map(upsert);
  return `WITH d AS (
      SELECT project_id, pipeline, hour, ${keys}, ${family.sums.map((s) => `sum(${s}) AS ${s}`).join(', ')}
      FROM (${source}) r
      GROUP BY project_id, pipeline, hour, ${keys}${family.nonZero ? ` HAVING ${family.nonZero}` : ''}
    )${writes
      .slice(0, -1)
      .map((w, i) => `, w${i} AS (${w})`)
      .join('')}
    ${writes[writes.length - 1]};`;
}

/** The trigger functions, by name: xray_<fn>_rollup_insert / _update (steps' covers two tables). */
const TRIGGER_FUNCTIONS = [...new Set(FAMILIES.map((f) => f.fn))];

/** One trigger function, writing every rollup table of its families at the given grains. */
function triggerFunction(fn: string, op: 'insert' | 'update', grains: ('hour' | 'day')[]): string {
  // The reasons rollup looks up each candidate's step by id. plpgsql keeps the plan it made
  // first, and on a young database (statistics from when steps was nearly empty) that plan
  // scanned every step for every candidate statement: ~35 ms per ingest batch after a few
  // thousand steps, and growing. Without sequential scans the lookup is always by primary key.
  const settings = fn === 'reasons' ? '\n    SET enable_seqscan = off' : '';
  return `
    CREATE OR REPLACE FUNCTION "xray_${fn}_rollup_${op}"() RETURNS trigger LANGUAGE plpgsql${settings} AS $$
    BEGIN
      ${FAMILIES.filter((f) => f.fn === fn)
        .map((f) => rollupStatement(f, op, grains))
        .join('\n      ')}
      RETURN NULL;
    END $$
  `;
}
