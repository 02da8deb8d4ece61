import type { MigrationInterface, QueryRunner } from 'typeorm';
import { refreshRejectionsSql } from '../score-rejections.js';
import { query, sql } from '../sql.js';

/**
 * Candidate scores record which steps of their run rejected their item (`rejected_steps`, the
 * step ids, and `rejected_names`, their names, in the same order; null when none did), so the
 * cross-run question reads scores alone (database/score-rejections.ts). Existing scores are
 * filled project by project (one shard group at a time on a Citus cluster).
 */
export class AddScoreRejections1795600600000 implements MigrationInterface {
  name = 'AddScoreRejections1795600600000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scores" ADD COLUMN "rejected_steps" uuid[], ADD COLUMN "rejected_names" text[]`);
    const projects: { project_id: string }[] = await q.query(`SELECT DISTINCT project_id FROM scores WHERE candidate_key IS NOT NULL`);
    for (const { project_id } of projects) {
      await query(q, refreshRejectionsSql(project_id, sql`true`));
    }
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scores" DROP COLUMN "rejected_steps", DROP COLUMN "rejected_names"`);
  }
}
