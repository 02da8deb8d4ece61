import type { MigrationInterface, QueryRunner } from 'typeorm';
import { addDays, createDayPartitions, dayOf } from '../partitions.js';

/**
 * Scores and their configurations:
 * - `scores`: a judgement of a run, a step or one candidate (step id + key), partitioned by day
 *   of its run's start (`run_started_at`, copied from the run) like steps and candidates, so
 *   retention drops a day of scores with the day's runs. Primary key (project_id, id,
 *   run_started_at); `client_id` (the client's id) is unique per project and run start, and
 *   makes a retried create answer the score it made. The value is one of value_number,
 *   value_bool, value_label, as `data_type` says.
 * - `score_configs`: per project, a name with its data type and range or allowed labels.
 */
export class AddScores1795600200000 implements MigrationInterface {
  name = 'AddScores1795600200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const q = queryRunner;
    await q.query(`
      CREATE TABLE "scores" (
        "project_id" uuid NOT NULL,
        "id" uuid NOT NULL,
        "run_id" uuid NOT NULL,
        "run_started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "step_id" uuid,
        "candidate_key" text,
        "name" text NOT NULL,
        "data_type" text NOT NULL,
        "value_number" double precision,
        "value_bool" boolean,
        "value_label" text,
        "comment" text,
        "source" text NOT NULL,
        "author" text,
        "metadata" jsonb,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "chk_scores_data_type" CHECK ("data_type" IN ('numeric', 'boolean', 'categorical')),
        CONSTRAINT "chk_scores_source" CHECK ("source" IN ('human', 'evaluator', 'api', 'sdk')),
        CONSTRAINT "chk_scores_target" CHECK ("candidate_key" IS NULL OR "step_id" IS NOT NULL),
        CONSTRAINT "pk_scores" PRIMARY KEY ("project_id", "id", "run_started_at")
      ) PARTITION BY RANGE ("run_started_at")
    `);
    await q.query(`CREATE INDEX "idx_scores_run" ON "scores" ("project_id", "run_id", "created_at", "id")`);
    await q.query(`CREATE INDEX "idx_scores_step" ON "scores" ("project_id", "step_id", "candidate_key") WHERE "step_id" IS NOT NULL`);
    await q.query(`CREATE INDEX "idx_scores_name" ON "scores" ("project_id", "name", "created_at", "id")`);
    await q.query(`
      CREATE TABLE "score_configs" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "name" text NOT NULL,
        "data_type" text NOT NULL,
        "min" double precision,
        "max" double precision,
        "labels" jsonb,
        "description" text,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "chk_score_configs_data_type" CHECK ("data_type" IN ('numeric', 'boolean', 'categorical')),
        CONSTRAINT "pk_score_configs" PRIMARY KEY ("project_id", "name")
      )
    `);

    // A partition for every day that has runs, and the days around today.
    const days = new Set<number>();
    const today = dayOf(Date.now());
    for (let d = -1; d <= 7; d++) days.add(addDays(today, d).getTime());
    const runDays: { day: Date }[] = await q.query(`SELECT DISTINCT date_trunc('day', started_at, 'UTC') AS day FROM runs`);
    for (const r of runDays) days.add(new Date(r.day).getTime());
    for (const day of [...days].sort()) await createDayPartitions(q, new Date(day), ['scores']);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "score_configs"`);
    await queryRunner.query(`DROP TABLE "scores"`);
  }
}
