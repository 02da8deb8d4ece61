import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deletion, erasure and per-project retention:
 * - deleted_runs: tombstones of deleted runs, so a replayed event (its dedupe memory gone or
 *   not) never brings a deleted run back;
 * - erased_keys: tombstones of erased candidate keys, as the SHA-256 of the key, so the
 *   tombstone does not keep the item's id in clear; candidates with such a key are not stored again;
 * - deletion_log: every deletion (a run, a filter, an erasure, retention) with the key that asked
 *   and what was removed (counts, never content); a bulk deletion is followed through its row
 *   (status, total, done);
 * - projects.retention_days: how long the project keeps its runs (null: the server default).
 */
export class AddDataLifecycle1795600100000 implements MigrationInterface {
  name = 'AddDataLifecycle1795600100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "deleted_runs" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "run_id" uuid NOT NULL,
        "deleted_at" timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT "PK_deleted_runs" PRIMARY KEY ("project_id", "run_id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "erased_keys" (
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "key_hash" bytea NOT NULL,
        "erased_at" timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT "PK_erased_keys" PRIMARY KEY ("project_id", "key_hash")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "deletion_log" (
        "id" uuid NOT NULL,
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "key_id" uuid,
        "kind" text NOT NULL,
        "filter" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "counts" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "status" text NOT NULL,
        "total" integer,
        "done" integer NOT NULL DEFAULT 0,
        "created_at" timestamptz(3) NOT NULL DEFAULT now(),
        "finished_at" timestamptz(3),
        CONSTRAINT "PK_deletion_log" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE INDEX "idx_deletion_log_project_created" ON "deletion_log" ("project_id", "created_at", "id")`);
    await queryRunner.query(`ALTER TABLE "projects" ADD "retention_days" integer`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "projects" DROP COLUMN "retention_days"`);
    await queryRunner.query(`DROP TABLE "deletion_log"`);
    await queryRunner.query(`DROP TABLE "erased_keys"`);
    await queryRunner.query(`DROP TABLE "deleted_runs"`);
  }
}
