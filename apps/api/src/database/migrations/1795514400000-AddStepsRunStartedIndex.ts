import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Steps of a run in start order: getRun's bounded step tree takes the earliest `stepLimit`
 * steps of a run and listRunSteps pages through them by (started_at, id). Without this index
 * both sorted every step of the run for every request (~600 ms for a 50,000-step run); with it
 * they read only the rows they answer.
 */
export class AddStepsRunStartedIndex1795514400000 implements MigrationInterface {
  name = 'AddStepsRunStartedIndex1795514400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "idx_steps_run_started" ON "steps" ("run_id", "started_at", "id") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_steps_run_started"`);
  }
}
