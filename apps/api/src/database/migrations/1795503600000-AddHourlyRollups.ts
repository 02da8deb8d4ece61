import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hourly rollups for pipeline analytics, so its cost depends on the number of hours in the
 * range, not on the number of steps or candidates in it. Statement-level triggers keep them
 * exact as steps and candidates are inserted and updated (replays included):
 * - step_stats_hourly: per (project, pipeline, hour of start, step name) counts, failures,
 *   finished steps and the sum of elimination ratios;
 * - step_durations_hourly: the same keys plus a duration bucket (10% wide, log scale), for
 *   percentiles;
 * - reason_counts_hourly: rejected candidates per reason, for steps of type `filter`.
 * They replace the per-step reason counts of the previous migration.
 */
export class AddHourlyRollups1795503600000 implements MigrationInterface {
  name = 'AddHourlyRollups1795503600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "candidates_reason_counts_update" ON "candidates"`);
    await queryRunner.query(`DROP TRIGGER "candidates_reason_counts_insert" ON "candidates"`);
    await queryRunner.query(`DROP FUNCTION "xray_reason_counts_update"()`);
    await queryRunner.query(`DROP FUNCTION "xray_reason_counts_insert"()`);
    await queryRunner.query(`DROP TABLE "step_reason_counts"`);

    await queryRunner.query(`
      CREATE TABLE "step_stats_hourly" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        "name" text NOT NULL,
        "steps" integer NOT NULL,
        "failed" integer NOT NULL,
        "finished" integer NOT NULL,
        "ratio_sum" double precision NOT NULL,
        "ratio_n" integer NOT NULL,
        CONSTRAINT "PK_step_stats_hourly" PRIMARY KEY ("project_id", "pipeline", "hour", "name")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "step_durations_hourly" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        "name" text NOT NULL,
        "bucket" smallint NOT NULL,
        "count" integer NOT NULL,
        CONSTRAINT "PK_step_durations_hourly" PRIMARY KEY ("project_id", "pipeline", "hour", "name", "bucket")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "reason_counts_hourly" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        "name" text NOT NULL,
        "reason" text NOT NULL,
        "count" integer NOT NULL,
        CONSTRAINT "PK_reason_counts_hourly" PRIMARY KEY ("project_id", "pipeline", "hour", "name", "reason")
      )
    `);
    // Bucket b >= 1 holds durations in [1.1^(b-1), 1.1^b) ms; bucket 0 everything under 1 ms.
    await queryRunner.query(`
      CREATE FUNCTION "xray_duration_bucket"(ms double precision) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN ms < 1 THEN 0 ELSE least(32000, 1 + floor(ln(ms) / ln(1.1)))::smallint END
      $$
    `);
    await queryRunner.query(`
      CREATE FUNCTION "xray_steps_rollup_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO step_stats_hourly AS t (project_id, pipeline, hour, name, steps, failed, finished, ratio_sum, ratio_n)
        SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), name, count(*),
               count(*) FILTER (WHERE status IN ('error', 'timed_out')), count(*) FILTER (WHERE status <> 'running'),
               coalesce(sum(elimination_ratio), 0), count(elimination_ratio)
        FROM new_rows GROUP BY 1, 2, 3, 4
        ON CONFLICT (project_id, pipeline, hour, name) DO UPDATE SET
          steps = t.steps + EXCLUDED.steps, failed = t.failed + EXCLUDED.failed, finished = t.finished + EXCLUDED.finished,
          ratio_sum = t.ratio_sum + EXCLUDED.ratio_sum, ratio_n = t.ratio_n + EXCLUDED.ratio_n;
        INSERT INTO step_durations_hourly AS t (project_id, pipeline, hour, name, bucket, count)
        SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), name, xray_duration_bucket(duration_ms), count(*)
        FROM new_rows WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (project_id, pipeline, hour, name, bucket) DO UPDATE SET count = t.count + EXCLUDED.count;
        RETURN NULL;
      END $$
    `);
    await queryRunner.query(`
      CREATE FUNCTION "xray_steps_rollup_update"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO step_stats_hourly AS t (project_id, pipeline, hour, name, steps, failed, finished, ratio_sum, ratio_n)
        SELECT project_id, pipeline, hour, name, sum(steps), sum(failed), sum(finished), sum(ratio_sum), sum(ratio_n)
        FROM (
          SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC') AS hour, name, 1 AS steps,
                 (status IN ('error', 'timed_out'))::int AS failed, (status <> 'running')::int AS finished,
                 coalesce(elimination_ratio, 0) AS ratio_sum, (elimination_ratio IS NOT NULL)::int AS ratio_n
          FROM new_rows
          UNION ALL
          SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), name, -1,
                 -((status IN ('error', 'timed_out'))::int), -((status <> 'running')::int),
                 -coalesce(elimination_ratio, 0), -((elimination_ratio IS NOT NULL)::int)
          FROM old_rows
        ) d GROUP BY 1, 2, 3, 4
        ON CONFLICT (project_id, pipeline, hour, name) DO UPDATE SET
          steps = t.steps + EXCLUDED.steps, failed = t.failed + EXCLUDED.failed, finished = t.finished + EXCLUDED.finished,
          ratio_sum = t.ratio_sum + EXCLUDED.ratio_sum, ratio_n = t.ratio_n + EXCLUDED.ratio_n;
        INSERT INTO step_durations_hourly AS t (project_id, pipeline, hour, name, bucket, count)
        SELECT project_id, pipeline, hour, name, bucket, sum(n) FROM (
          SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC') AS hour, name, xray_duration_bucket(duration_ms) AS bucket, 1 AS n
          FROM new_rows WHERE duration_ms IS NOT NULL
          UNION ALL
          SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), name, xray_duration_bucket(duration_ms), -1
          FROM old_rows WHERE duration_ms IS NOT NULL
        ) d GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0
        ON CONFLICT (project_id, pipeline, hour, name, bucket) DO UPDATE SET count = t.count + EXCLUDED.count;
        RETURN NULL;
      END $$
    `);
    await queryRunner.query(`
      CREATE TRIGGER "steps_rollup_insert" AFTER INSERT ON "steps"
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_steps_rollup_insert"()
    `);
    await queryRunner.query(`
      CREATE TRIGGER "steps_rollup_update" AFTER UPDATE ON "steps"
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_steps_rollup_update"()
    `);
    await queryRunner.query(`
      CREATE FUNCTION "xray_reasons_rollup_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO reason_counts_hourly AS t (project_id, pipeline, hour, name, reason, count)
        SELECT s.project_id, s.pipeline, date_trunc('hour', s.started_at, 'UTC'), s.name, c.reason, count(*)
        FROM new_rows c JOIN steps s ON s.id = c.step_id
        WHERE c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter'
        GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (project_id, pipeline, hour, name, reason) DO UPDATE SET count = t.count + EXCLUDED.count;
        RETURN NULL;
      END $$
    `);
    await queryRunner.query(`
      CREATE FUNCTION "xray_reasons_rollup_update"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO reason_counts_hourly AS t (project_id, pipeline, hour, name, reason, count)
        SELECT s.project_id, s.pipeline, date_trunc('hour', s.started_at, 'UTC'), s.name, d.reason, sum(d.n)
        FROM (
          SELECT step_id, reason, 1 AS n FROM new_rows WHERE decision = 'rejected' AND reason IS NOT NULL
          UNION ALL
          SELECT step_id, reason, -1 FROM old_rows WHERE decision = 'rejected' AND reason IS NOT NULL
        ) d JOIN steps s ON s.id = d.step_id
        WHERE s.type = 'filter'
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.n) <> 0
        ON CONFLICT (project_id, pipeline, hour, name, reason) DO UPDATE SET count = t.count + EXCLUDED.count;
        RETURN NULL;
      END $$
    `);
    await queryRunner.query(`
      CREATE TRIGGER "candidates_reasons_rollup_insert" AFTER INSERT ON "candidates"
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_reasons_rollup_insert"()
    `);
    await queryRunner.query(`
      CREATE TRIGGER "candidates_reasons_rollup_update" AFTER UPDATE ON "candidates"
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_reasons_rollup_update"()
    `);

    // Backfill from what is already stored.
    await queryRunner.query(`
      INSERT INTO step_stats_hourly (project_id, pipeline, hour, name, steps, failed, finished, ratio_sum, ratio_n)
      SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), name, count(*),
             count(*) FILTER (WHERE status IN ('error', 'timed_out')), count(*) FILTER (WHERE status <> 'running'),
             coalesce(sum(elimination_ratio), 0), count(elimination_ratio)
      FROM steps GROUP BY 1, 2, 3, 4
    `);
    await queryRunner.query(`
      INSERT INTO step_durations_hourly (project_id, pipeline, hour, name, bucket, count)
      SELECT project_id, pipeline, date_trunc('hour', started_at, 'UTC'), name, xray_duration_bucket(duration_ms), count(*)
      FROM steps WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    `);
    await queryRunner.query(`
      INSERT INTO reason_counts_hourly (project_id, pipeline, hour, name, reason, count)
      SELECT s.project_id, s.pipeline, date_trunc('hour', s.started_at, 'UTC'), s.name, c.reason, count(*)
      FROM candidates c JOIN steps s ON s.id = c.step_id
      WHERE c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter'
      GROUP BY 1, 2, 3, 4, 5
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "candidates_reasons_rollup_update" ON "candidates"`);
    await queryRunner.query(`DROP TRIGGER "candidates_reasons_rollup_insert" ON "candidates"`);
    await queryRunner.query(`DROP TRIGGER "steps_rollup_update" ON "steps"`);
    await queryRunner.query(`DROP TRIGGER "steps_rollup_insert" ON "steps"`);
    await queryRunner.query(`DROP FUNCTION "xray_reasons_rollup_update"()`);
    await queryRunner.query(`DROP FUNCTION "xray_reasons_rollup_insert"()`);
    await queryRunner.query(`DROP FUNCTION "xray_steps_rollup_update"()`);
    await queryRunner.query(`DROP FUNCTION "xray_steps_rollup_insert"()`);
    await queryRunner.query(`DROP FUNCTION "xray_duration_bucket"(double precision)`);
    await queryRunner.query(`DROP TABLE "reason_counts_hourly"`);
    await queryRunner.query(`DROP TABLE "step_durations_hourly"`);
    await queryRunner.query(`DROP TABLE "step_stats_hourly"`);
    // The per-step reason counts of the previous migration are not restored: revert that one too.
  }
}
