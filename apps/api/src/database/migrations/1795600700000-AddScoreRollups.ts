import type { MigrationInterface, QueryRunner } from 'typeorm';
import { citusInstalled, citusShardCount, distributeTables } from '../citus.js';
import { createDayPartitions, addDays, dayOf } from '../partitions.js';
import { rebuildRejectionRollup } from '../score-rejections.js';
import { rebuildScoreValues } from '../score-values.js';

/**
 * The two rollups score reads use, both partitioned by day like the other hourly rollups
 * (retention drops them with the scores), distributed by project on a Citus cluster, and filled
 * from the stored scores, project by project:
 * - `score_values_hourly` (database/score-values.ts): per project, pipeline, hour of the run's
 *   start, score name, target and value, how many scores carry it (summaries and series);
 * - `score_rejections_hourly` (database/score-rejections.ts): per project, pipeline, hour, score
 *   name, step name (`''`: the items scored) and score value, the (run, key) items counted by
 *   their latest score (the cross-run rejection question).
 * And two indexes of candidate scores: by name and run start, for the few hours that question
 * still reads from the scores; by item (run, key, name), for the writers that move its rollup.
 */
export class AddScoreRollups1795600700000 implements MigrationInterface {
  name = 'AddScoreRollups1795600700000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "score_rejections_hourly" (
        "project_id" uuid NOT NULL,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        "name" text NOT NULL,
        "step_name" text NOT NULL,
        "data_type" text NOT NULL,
        "value_key" text NOT NULL,
        "value_number" double precision,
        "value_bool" boolean,
        "value_label" text,
        "items" integer NOT NULL,
        CONSTRAINT "pk_score_rejections_hourly" PRIMARY KEY ("project_id", "pipeline", "name", "hour", "step_name", "data_type", "value_key")
      ) PARTITION BY RANGE ("hour")`);
    await q.query(`
      CREATE TABLE "score_values_hourly" (
        "project_id" uuid NOT NULL,
        "pipeline" text NOT NULL,
        "hour" timestamptz NOT NULL,
        "name" text NOT NULL,
        "target" text NOT NULL,
        "data_type" text NOT NULL,
        "value_key" text NOT NULL,
        "value_number" double precision,
        "value_bool" boolean,
        "value_label" text,
        "n" integer NOT NULL,
        CONSTRAINT "pk_score_values_hourly" PRIMARY KEY ("project_id", "pipeline", "hour", "name", "target", "data_type", "value_key")
      ) PARTITION BY RANGE ("hour")`);
    // The rejection question reads the scores of a few hours directly (a range's partial edge
    // hours, a step's newest examples): by name and run start, not the whole day partition.
    await q.query(`CREATE INDEX "idx_scores_name_started" ON "scores" ("project_id", "name", "run_started_at") WHERE "candidate_key" IS NOT NULL`);
    // The writers that move the rejection rollup find an item's (run, key, name) newest score.
    await q.query(
      `CREATE INDEX "idx_scores_item" ON "scores" ("project_id", "run_id", "candidate_key", "name", "created_at", "id") WHERE "candidate_key" IS NOT NULL`,
    );
    // A partition for every day that has scores, and the days around today.
    const days = new Set<number>();
    const today = dayOf(Date.now());
    for (let d = -1; d <= 7; d++) days.add(addDays(today, d).getTime());
    const scoreDays: { day: Date }[] = await q.query(`SELECT DISTINCT date_trunc('day', run_started_at, 'UTC') AS day FROM scores`);
    for (const r of scoreDays) days.add(new Date(r.day).getTime());
    for (const day of [...days].sort()) await createDayPartitions(q, new Date(day), ['score_rejections_hourly', 'score_values_hourly']);
    if (await citusInstalled(q)) await distributeTables(q, { shardCount: citusShardCount() });
    const projects: { project_id: string }[] = await q.query(`SELECT DISTINCT project_id FROM scores`);
    for (const { project_id } of projects) {
      await rebuildScoreValues(q, project_id);
      await rebuildRejectionRollup(q, project_id);
    }
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "idx_scores_item"`);
    await q.query(`DROP INDEX "idx_scores_name_started"`);
    await q.query(`DROP TABLE "score_values_hourly"`);
    await q.query(`DROP TABLE "score_rejections_hourly"`);
  }
}
