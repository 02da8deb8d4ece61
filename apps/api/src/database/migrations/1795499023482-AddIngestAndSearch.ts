import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddIngestAndSearch1795499023482 implements MigrationInterface {
  name = 'AddIngestAndSearch1795499023482';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // typeorm_metadata records generated columns per database; use the one being migrated.
    const database = await queryRunner.getCurrentDatabase();
    await queryRunner.query(`
            DROP INDEX "public"."idx_candidates_project_key"
        `);
    await queryRunner.query(`
            CREATE TABLE "ingest_events" (
                "project_id" uuid NOT NULL,
                "event_id" text NOT NULL,
                "status" smallint NOT NULL,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_9db509014bf7e9216144b3d9bf4" PRIMARY KEY ("project_id", "event_id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_ingest_events_created" ON "ingest_events" ("created_at")
        `);
    await queryRunner.query(`
            ALTER TABLE "runs"
            ADD "error_type" text GENERATED ALWAYS AS ("error"->>'type') STORED
        `);
    await queryRunner.query(
      `
            INSERT INTO "typeorm_metadata"(
                    "database",
                    "schema",
                    "table",
                    "type",
                    "name",
                    "value"
                )
            VALUES ($1, $2, $3, $4, $5, $6)
        `,
      [database, 'public', 'runs', 'GENERATED_COLUMN', 'error_type', '"error" ->> \'type\''],
    );
    await queryRunner.query(`
            ALTER TABLE "runs"
            ADD "search" tsvector GENERATED ALWAYS AS (
                    to_tsvector(
                        'simple'::regconfig,
                        coalesce("pipeline", '') || ' ' || coalesce("error"->>'message', '')
                    )
                ) STORED NOT NULL
        `);
    await queryRunner.query(
      `
            INSERT INTO "typeorm_metadata"(
                    "database",
                    "schema",
                    "table",
                    "type",
                    "name",
                    "value"
                )
            VALUES ($1, $2, $3, $4, $5, $6)
        `,
      [
        database,
        'public',
        'runs',
        'GENERATED_COLUMN',
        'search',
        "to_tsvector('simple'::regconfig, coalesce(\"pipeline\", '') || ' ' || coalesce(\"error\" ->> 'message', ''))",
      ],
    );
    // Existing steps take their run's pipeline.
    await queryRunner.query(`
            ALTER TABLE "steps"
            ADD "pipeline" text
        `);
    await queryRunner.query(`
            UPDATE "steps" s SET "pipeline" = r."pipeline" FROM "runs" r WHERE r."id" = s."run_id"
        `);
    await queryRunner.query(`
            ALTER TABLE "steps" ALTER COLUMN "pipeline" SET NOT NULL
        `);
    await queryRunner.query(`
            ALTER TABLE "steps"
            ADD "search" tsvector GENERATED ALWAYS AS (
                    to_tsvector(
                        'simple'::regconfig,
                        coalesce("name", '') || ' ' || coalesce("error"->>'message', '')
                    )
                ) STORED NOT NULL
        `);
    await queryRunner.query(
      `
            INSERT INTO "typeorm_metadata"(
                    "database",
                    "schema",
                    "table",
                    "type",
                    "name",
                    "value"
                )
            VALUES ($1, $2, $3, $4, $5, $6)
        `,
      [
        database,
        'public',
        'steps',
        'GENERATED_COLUMN',
        'search',
        "to_tsvector('simple'::regconfig, coalesce(\"name\", '') || ' ' || coalesce(\"error\" ->> 'message', ''))",
      ],
    );
    await queryRunner.query(`
            CREATE INDEX "idx_runs_project_error_type_started" ON "runs" ("project_id", "error_type", "started_at", "id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_steps_project_pipeline_started" ON "steps" ("project_id", "pipeline", "started_at", "id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_candidates_project_key" ON "candidates" ("project_id", "key", "id")
        `);
    // Indexes TypeORM cannot describe (declared with synchronize: false on the entities).
    await queryRunner.query(`
            CREATE INDEX "idx_runs_metadata" ON "runs" USING gin ("metadata" jsonb_path_ops)
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_runs_search" ON "runs" USING gin ("search")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_steps_search" ON "steps" USING gin ("search")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_runs_running" ON "runs" ("started_at") WHERE "status" = 'running'
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    const database = await queryRunner.getCurrentDatabase();
    await queryRunner.query(`DROP INDEX "public"."idx_runs_metadata"`);
    await queryRunner.query(`DROP INDEX "public"."idx_runs_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_steps_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_runs_running"`);
    await queryRunner.query(`
            DROP INDEX "public"."idx_candidates_project_key"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_steps_project_pipeline_started"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_runs_project_error_type_started"
        `);
    await queryRunner.query(
      `
            DELETE FROM "typeorm_metadata"
            WHERE "type" = $1
                AND "name" = $2
                AND "database" = $3
                AND "schema" = $4
                AND "table" = $5
        `,
      ['GENERATED_COLUMN', 'search', database, 'public', 'steps'],
    );
    await queryRunner.query(`
            ALTER TABLE "steps" DROP COLUMN "search"
        `);
    await queryRunner.query(`
            ALTER TABLE "steps" DROP COLUMN "pipeline"
        `);
    await queryRunner.query(
      `
            DELETE FROM "typeorm_metadata"
            WHERE "type" = $1
                AND "name" = $2
                AND "database" = $3
                AND "schema" = $4
                AND "table" = $5
        `,
      ['GENERATED_COLUMN', 'search', database, 'public', 'runs'],
    );
    await queryRunner.query(`
            ALTER TABLE "runs" DROP COLUMN "search"
        `);
    await queryRunner.query(
      `
            DELETE FROM "typeorm_metadata"
            WHERE "type" = $1
                AND "name" = $2
                AND "database" = $3
                AND "schema" = $4
                AND "table" = $5
        `,
      ['GENERATED_COLUMN', 'error_type', database, 'public', 'runs'],
    );
    await queryRunner.query(`
            ALTER TABLE "runs" DROP COLUMN "error_type"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_ingest_events_created"
        `);
    await queryRunner.query(`
            DROP TABLE "ingest_events"
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_candidates_project_key" ON "candidates" USING btree ("project_id", "key")
        `);
  }
}
