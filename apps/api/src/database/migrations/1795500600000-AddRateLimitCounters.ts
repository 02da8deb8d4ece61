import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-key request counters for rate limiting, shared by every API process. UNLOGGED: they are
 * worth nothing after a crash and must not cost WAL on every request. (Not an entity: only the
 * guard's one statement touches it.)
 */
export class AddRateLimitCounters1795500600000 implements MigrationInterface {
  name = 'AddRateLimitCounters1795500600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE UNLOGGED TABLE "rate_limit_counters" (
        "key_id" uuid NOT NULL,
        "window_start" TIMESTAMP(0) WITH TIME ZONE NOT NULL,
        "count" integer NOT NULL,
        CONSTRAINT "PK_rate_limit_counters" PRIMARY KEY ("key_id", "window_start")
      )
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limit_counters"`);
  }
}
