import { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { addDays, createDayPartitions, dayOf, type PartitionedTable } from '../partitions.js';
import { rebuildRollupsStatements } from '../rollups.js';

/**
 * Lean, time-partitioned storage, ready to be distributed (see bench/RESULTS.md for the figures
 * that chose it):
 *
 * - `runs`: primary key (project_id, id): ids are per project. No triggers.
 * - `steps`: partitioned by day of `run_started_at` (the run's start, copied onto each step);
 *   primary key (project_id, id, run_id, run_started_at). No triggers, no foreign keys: the
 *   writers' statements find the run (they need its start anyway), and a foreign key would make
 *   retention probe every partition for each run it removes.
 * - `candidates`: partitioned the same way; primary key (project_id, step_id, key, run_id,
 *   run_started_at) is the idempotency key; one more index, (project_id, key), for an item's
 *   lineage and erasure. No identity column, no foreign keys (the batch statement checks the
 *   step's owner), no updated_at, no (step_id, decision, id) index (a step's candidates are read
 *   by key order; a decision filter reads them through the key).
 * - The hourly rollups: partitioned by day of `hour`; kept by the writers' statements
 *   (database/rollups.ts), keyed by the run's start instead of the step's. Rebuilt here.
 * - `ingest_events`: partitioned by day of `created_at`; the dedupe window drops partitions.
 *
 * An existing database is migrated in place: the old tables are renamed, their rows copied
 * into the new layout one day of runs at a time (progress is printed), then dropped.
 */
export class PartitionedStorage1795600000000 implements MigrationInterface {
  name = 'PartitionedStorage1795600000000';

  public async up(q: QueryRunner): Promise<void> {
    // Progress is printed when there are rows to move (a fresh database migrates silently).
    let verbose = false;
    const logger = new Logger(this.name);
    const log = (line: string) => verbose && logger.log(line);

    for (const [trigger, table] of [
      ['runs_rollup_insert', 'runs'],
      ['runs_rollup_update', 'runs'],
      ['steps_rollup_insert', 'steps'],
      ['steps_rollup_update', 'steps'],
      ['candidates_reasons_rollup_insert', 'candidates'],
      ['candidates_reasons_rollup_update', 'candidates'],
    ]) {
      await q.query(`DROP TRIGGER IF EXISTS "${trigger}" ON "${table}"`);
    }
    for (const fn of ['runs', 'steps', 'reasons']) {
      for (const op of ['insert', 'update']) await q.query(`DROP FUNCTION IF EXISTS "xray_${fn}_rollup_${op}"()`);
    }

    // Foreign keys of steps and candidates go.
    const fks: { name: string; table: string }[] = await q.query(
      `SELECT conname AS name, conrelid::regclass::text AS table FROM pg_constraint
       WHERE contype = 'f' AND conrelid IN ('steps'::regclass, 'candidates'::regclass)`,
    );
    for (const fk of fks) await q.query(`ALTER TABLE "${fk.table}" DROP CONSTRAINT "${fk.name}"`);

    const [{ name: runsPk }]: { name: string }[] = await q.query(
      `SELECT conname AS name FROM pg_constraint WHERE conrelid = 'runs'::regclass AND contype = 'p'`,
    );
    await q.query(`ALTER TABLE "runs" DROP CONSTRAINT "${runsPk}"`);
    await q.query(`ALTER TABLE "runs" ADD CONSTRAINT "pk_runs" PRIMARY KEY ("project_id", "id")`);
    // Retention removes runs by start time across projects.
    await q.query(`CREATE INDEX "idx_runs_started" ON "runs" ("started_at")`);

    for (const table of ['steps', 'candidates', 'ingest_events']) await q.query(`ALTER TABLE "${table}" RENAME TO "${table}_old"`);
    for (const table of ['step_stats_hourly', 'step_durations_hourly', 'reason_counts_hourly', 'run_stats_hourly']) {
      await q.query(`DROP TABLE "${table}"`);
    }

    await q.query(`
      CREATE TABLE "steps" (
        LIKE "steps_old" INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS,
        "run_started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        CONSTRAINT "pk_steps" PRIMARY KEY ("project_id", "id", "run_id", "run_started_at")
      ) PARTITION BY RANGE ("run_started_at")
    `);
    await q.query(`
      CREATE TABLE "candidates" (
        "project_id" uuid NOT NULL,
        "run_id" uuid NOT NULL,
        "step_id" uuid NOT NULL,
        "run_started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "score" double precision,
        "rank" integer,
        "key" text NOT NULL,
        "decision" text NOT NULL,
        "reason" text,
        "evaluations" jsonb,
        "data" jsonb,
        CONSTRAINT "chk_candidates_decision" CHECK ("decision" IN ('accepted', 'rejected', 'selected')),
        CONSTRAINT "pk_candidates" PRIMARY KEY ("project_id", "step_id", "key", "run_id", "run_started_at")
      ) PARTITION BY RANGE ("run_started_at")
    `);
    const rollup = (table: string, keys: [string, string][], sums: [string, string][]) => `
      CREATE TABLE "${table}_hourly" (
        "project_id" uuid NOT NULL,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        ${[...keys, ...sums].map(([name, type]) => `"${name}" ${type} NOT NULL,`).join('\n        ')}
        CONSTRAINT "pk_${table}_hourly" PRIMARY KEY ("project_id", "pipeline", "hour", ${names(keys)}) INCLUDE (${names(sums)})
      ) PARTITION BY RANGE ("hour")`;
    await q.query(
      rollup(
        'step_stats',
        [['name', 'text']],
        [
          ['steps', 'integer'],
          ['failed', 'integer'],
          ['finished', 'integer'],
          ['ratio_sum', 'double precision'],
          ['ratio_n', 'integer'],
        ],
      ),
    );
    await q.query(
      rollup(
        'step_durations',
        [
          ['name', 'text'],
          ['bucket', 'smallint'],
        ],
        [['count', 'integer']],
      ),
    );
    await q.query(
      rollup(
        'reason_counts',
        [
          ['name', 'text'],
          ['reason', 'text'],
        ],
        [['count', 'integer']],
      ),
    );
    await q.query(rollup('run_stats', [['status', 'text']], [['count', 'integer']]));
    await q.query(`
      CREATE TABLE "ingest_events" (
        "project_id" uuid NOT NULL,
        "event_id" text NOT NULL,
        "status" smallint NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_ingest_events" PRIMARY KEY ("project_id", "event_id", "created_at")
      ) PARTITION BY RANGE ("created_at")
    `);

    // A partition for every day that has runs or remembered events, and the days around today.
    const days = new Set<number>();
    const today = dayOf(Date.now());
    for (let d = -1; d <= 7; d++) days.add(addDays(today, d).getTime());
    const runDays: { day: Date }[] = await q.query(`SELECT DISTINCT date_trunc('day', started_at, 'UTC') AS day FROM runs`);
    for (const r of runDays) days.add(new Date(r.day).getTime());
    const eventDays: { day: Date }[] = await q.query(`SELECT DISTINCT date_trunc('day', created_at, 'UTC') AS day FROM ingest_events_old`);
    const tables: PartitionedTable[] = ['steps', 'candidates', 'step_stats_hourly', 'step_durations_hourly', 'reason_counts_hourly', 'run_stats_hourly'];
    for (const day of [...days].sort()) await createDayPartitions(q, new Date(day), tables);
    for (const day of new Set([...eventDays.map((e) => new Date(e.day).getTime()), ...days])) await createDayPartitions(q, new Date(day), ['ingest_events']);

    // Copy, one day of runs at a time.
    const dataDays = runDays.map((r) => new Date(r.day)).sort((a, b) => a.getTime() - b.getTime());
    const [{ steps: totalSteps, candidates: totalCandidates }]: { steps: number; candidates: number }[] = await q.query(
      `SELECT (SELECT count(*) FROM steps_old)::int AS steps, (SELECT count(*) FROM candidates_old)::int AS candidates`,
    );
    verbose = totalSteps + totalCandidates > 0;
    log(`created the partitions of ${days.size} day(s); copying ${totalSteps} steps and ${totalCandidates} candidates over ${dataDays.length} day(s) of runs`);
    const stepColumns: { name: string }[] = await q.query(
      `SELECT attname AS name FROM pg_attribute WHERE attrelid = 'steps_old'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    );
    const stepCols = stepColumns.map((c) => `"${c.name}"`).join(', ');
    let copiedSteps = 0;
    let copiedCandidates = 0;
    const started = Date.now();
    for (const [i, day] of dataDays.entries()) {
      const range = [day.toISOString(), addDays(day, 1).toISOString()];
      await q.query(
        `CREATE TEMP TABLE day_runs ON COMMIT DROP AS SELECT project_id, id, started_at FROM runs WHERE started_at >= $1 AND started_at < $2`,
        range,
      );
      const [{ n: steps }]: { n: number }[] = await q.query(
        `WITH moved AS (
           INSERT INTO steps (${stepCols}, run_started_at)
           SELECT ${stepColumns.map((c) => `s."${c.name}"`).join(', ')}, r.started_at
           FROM day_runs r JOIN steps_old s ON s.run_id = r.id AND s.project_id = r.project_id
           RETURNING 1
         ) SELECT count(*)::int AS n FROM moved`,
      );
      const [{ n: candidates }]: { n: number }[] = await q.query(
        `WITH moved AS (
           INSERT INTO candidates (project_id, run_id, step_id, run_started_at, created_at, score, rank, key, decision, reason, evaluations, data)
           SELECT c.project_id, c.run_id, c.step_id, r.started_at, c.created_at, c.score, c.rank, c.key, c.decision, c.reason, c.evaluations, c.data
           FROM day_runs r JOIN steps_old s ON s.run_id = r.id AND s.project_id = r.project_id JOIN candidates_old c ON c.step_id = s.id
           RETURNING 1
         ) SELECT count(*)::int AS n FROM moved`,
      );
      await q.query(`DROP TABLE day_runs`);
      copiedSteps += steps;
      copiedCandidates += candidates;
      if (steps + candidates > 0) {
        log(
          `day ${i + 1}/${dataDays.length} (${range[0].slice(0, 10)}): ${steps} steps, ${candidates} candidates; ` +
            `${copiedSteps}/${totalSteps} steps, ${copiedCandidates}/${totalCandidates} candidates in ${((Date.now() - started) / 1000).toFixed(0)} s`,
        );
      }
    }
    if (copiedSteps !== totalSteps || copiedCandidates !== totalCandidates) {
      throw new Error(`copied ${copiedSteps}/${totalSteps} steps and ${copiedCandidates}/${totalCandidates} candidates: rows without a run`);
    }
    await q.query(
      `INSERT INTO ingest_events (project_id, event_id, status, created_at) SELECT project_id, event_id, status, created_at FROM ingest_events_old`,
    );
    for (const table of ['candidates_old', 'steps_old', 'ingest_events_old']) await q.query(`DROP TABLE "${table}"`);

    // Secondary indexes, built once the rows are in.
    log('building indexes');
    await q.query(`CREATE INDEX "idx_steps_run_parent_position" ON "steps" ("project_id", "run_id", "parent_step_id", "position")`);
    await q.query(`CREATE INDEX "idx_steps_run_started" ON "steps" ("project_id", "run_id", "started_at", "id")`);
    await q.query(`CREATE INDEX "idx_steps_project_name_started" ON "steps" ("project_id", "name", "started_at", "id")`);
    await q.query(
      `CREATE INDEX "idx_steps_project_pipeline_started" ON "steps" ("project_id", "pipeline", "started_at", "id") INCLUDE ("name", "type", "status", "duration_ms", "elimination_ratio")`,
    );
    await q.query(`CREATE INDEX "idx_steps_search" ON "steps" USING gin ("search")`);
    await q.query(`CREATE INDEX "idx_candidates_project_key" ON "candidates" ("project_id", "key")`);

    log('rebuilding the rollups (keyed by the run’s start)');
    for (const statement of rebuildRollupsStatements()) await q.query(statement);
    // Statistics for the new tables and their partitions before the first query is planned (the
    // planner otherwise guesses a few dozen rows per partition and hash-joins whole tables).
    log('analyzing');
    for (const table of ['runs', 'steps', 'candidates', 'step_stats_hourly', 'step_durations_hourly', 'reason_counts_hourly', 'run_stats_hourly']) {
      await q.query(`ANALYZE "${table}"`);
    }
    log('done');
  }

  public async down(): Promise<void> {
    // Going back would copy every row into the unpartitioned layout and reinstall the triggers:
    // restore the backup taken before upgrading, or export and import (npm run xray -- export).
    throw new Error('PartitionedStorage cannot be reverted in place');
  }
}

/** `"a", "b"` of column definitions. */
const names = (columns: [string, string][]): string => columns.map(([name]) => `"${name}"`).join(', ');
