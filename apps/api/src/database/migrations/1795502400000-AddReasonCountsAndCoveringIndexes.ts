import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pipeline analytics at scale.
 * - `step_reason_counts`: per step, how many candidates were rejected for each reason, kept
 *   exact by statement-level triggers on `candidates` (inserts and upserts alike, replays
 *   included), so "top rejection reasons" never scans the candidates table.
 * - Covering indexes so per-pipeline run and step statistics are index-only scans.
 * (Not entities: only SQL in the analytics service reads the counts.)
 */
export class AddReasonCountsAndCoveringIndexes1795502400000 implements MigrationInterface {
  name = 'AddReasonCountsAndCoveringIndexes1795502400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "step_reason_counts" (
        "step_id" uuid NOT NULL REFERENCES "steps" ("id") ON DELETE CASCADE,
        "reason" text NOT NULL,
        "count" integer NOT NULL,
        CONSTRAINT "PK_step_reason_counts" PRIMARY KEY ("step_id", "reason")
      )
    `);
    await queryRunner.query(`
      CREATE FUNCTION "xray_reason_counts_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO step_reason_counts (step_id, reason, count)
        SELECT step_id, reason, count(*) FROM new_rows
        WHERE decision = 'rejected' AND reason IS NOT NULL
        GROUP BY step_id, reason
        ON CONFLICT (step_id, reason) DO UPDATE SET count = step_reason_counts.count + EXCLUDED.count;
        RETURN NULL;
      END $$
    `);
    await queryRunner.query(`
      CREATE FUNCTION "xray_reason_counts_update"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO step_reason_counts (step_id, reason, count)
        SELECT step_id, reason, sum(d) FROM (
          SELECT step_id, reason, 1 AS d FROM new_rows WHERE decision = 'rejected' AND reason IS NOT NULL
          UNION ALL
          SELECT step_id, reason, -1 FROM old_rows WHERE decision = 'rejected' AND reason IS NOT NULL
        ) z
        GROUP BY step_id, reason HAVING sum(d) <> 0
        ON CONFLICT (step_id, reason) DO UPDATE SET count = step_reason_counts.count + EXCLUDED.count;
        RETURN NULL;
      END $$
    `);
    await queryRunner.query(`
      CREATE TRIGGER "candidates_reason_counts_insert" AFTER INSERT ON "candidates"
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_reason_counts_insert"()
    `);
    await queryRunner.query(`
      CREATE TRIGGER "candidates_reason_counts_update" AFTER UPDATE ON "candidates"
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "xray_reason_counts_update"()
    `);
    await queryRunner.query(`
      INSERT INTO step_reason_counts (step_id, reason, count)
      SELECT step_id, reason, count(*) FROM candidates
      WHERE decision = 'rejected' AND reason IS NOT NULL
      GROUP BY step_id, reason
    `);
    await queryRunner.query(`DROP INDEX "idx_steps_project_pipeline_started"`);
    await queryRunner.query(`
      CREATE INDEX "idx_steps_project_pipeline_started" ON "steps" ("project_id", "pipeline", "started_at", "id")
      INCLUDE ("name", "type", "status", "duration_ms", "elimination_ratio")
    `);
    await queryRunner.query(`DROP INDEX "idx_runs_project_pipeline_started"`);
    await queryRunner.query(`
      CREATE INDEX "idx_runs_project_pipeline_started" ON "runs" ("project_id", "pipeline", "started_at", "id") INCLUDE ("status")
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_runs_project_pipeline_started"`);
    await queryRunner.query(`CREATE INDEX "idx_runs_project_pipeline_started" ON "runs" ("project_id", "pipeline", "started_at", "id")`);
    await queryRunner.query(`DROP INDEX "idx_steps_project_pipeline_started"`);
    await queryRunner.query(`CREATE INDEX "idx_steps_project_pipeline_started" ON "steps" ("project_id", "pipeline", "started_at", "id")`);
    await queryRunner.query(`DROP TRIGGER "candidates_reason_counts_update" ON "candidates"`);
    await queryRunner.query(`DROP TRIGGER "candidates_reason_counts_insert" ON "candidates"`);
    await queryRunner.query(`DROP FUNCTION "xray_reason_counts_update"()`);
    await queryRunner.query(`DROP FUNCTION "xray_reason_counts_insert"()`);
    await queryRunner.query(`DROP TABLE "step_reason_counts"`);
  }
}
