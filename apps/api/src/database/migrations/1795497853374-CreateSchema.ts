import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSchema1795497853374 implements MigrationInterface {
  name = 'CreateSchema1795497853374';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // typeorm_metadata records generated columns per database; use the one being migrated.
    const database = await queryRunner.getCurrentDatabase();
    await queryRunner.query(`
            CREATE TABLE "projects" (
                "id" uuid NOT NULL,
                "name" text NOT NULL,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "UQ_2187088ab5ef2a918473cb99007" UNIQUE ("name"),
                CONSTRAINT "PK_6271df0a7aed1d6c0691ce6ac50" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE TABLE "api_keys" (
                "id" uuid NOT NULL,
                "project_id" uuid NOT NULL,
                "name" text NOT NULL,
                "prefix" text NOT NULL,
                "hash" text NOT NULL,
                "scopes" text array NOT NULL,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "last_used_at" TIMESTAMP(3) WITH TIME ZONE,
                "expires_at" TIMESTAMP(3) WITH TIME ZONE,
                "revoked_at" TIMESTAMP(3) WITH TIME ZONE,
                CONSTRAINT "UQ_598a14447f592c12d1fe22ba918" UNIQUE ("hash"),
                CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_api_keys_project" ON "api_keys" ("project_id", "created_at")
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
      [database, 'public', 'runs', 'GENERATED_COLUMN', 'duration_ms', 'extract(epoch from ("ended_at" - "started_at")) * 1000'],
    );
    await queryRunner.query(`
            CREATE TABLE "runs" (
                "id" uuid NOT NULL,
                "project_id" uuid NOT NULL,
                "pipeline" text NOT NULL,
                "pipeline_version" text,
                "status" text NOT NULL DEFAULT 'running',
                "input" jsonb,
                "output" jsonb,
                "error" jsonb,
                "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
                "tags" text array NOT NULL DEFAULT '{}'::text [],
                "started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
                "ended_at" TIMESTAMP(3) WITH TIME ZONE,
                "duration_ms" double precision GENERATED ALWAYS AS (
                    extract(
                        epoch
                        from ("ended_at" - "started_at")
                    ) * 1000
                ) STORED,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "chk_runs_ended_after_started" CHECK (
                    "ended_at" IS NULL
                    OR "ended_at" >= "started_at"
                ),
                CONSTRAINT "chk_runs_status" CHECK (
                    "status" IN (
                        'running',
                        'success',
                        'error',
                        'cancelled',
                        'timed_out'
                    )
                ),
                CONSTRAINT "PK_46d6a1e257c38ba58f1a3c30836" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_runs_project_status_started" ON "runs" ("project_id", "status", "started_at", "id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_runs_project_pipeline_started" ON "runs" ("project_id", "pipeline", "started_at", "id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_runs_tags" ON "runs" USING gin ("tags")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_runs_project_started" ON "runs" ("project_id", "started_at", "id")
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
      [database, 'public', 'steps', 'GENERATED_COLUMN', 'duration_ms', 'extract(epoch from ("ended_at" - "started_at")) * 1000'],
    );
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
      [database, 'public', 'steps', 'GENERATED_COLUMN', 'candidates_in', 'coalesce("reported_in", "stored_in")'],
    );
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
      [database, 'public', 'steps', 'GENERATED_COLUMN', 'candidates_out', 'coalesce("reported_out", "stored_out")'],
    );
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
        'elimination_ratio',
        'CASE WHEN coalesce("reported_in", "stored_in") > 0 THEN 1 - coalesce("reported_out", "stored_out")::double precision / coalesce("reported_in", "stored_in") END',
      ],
    );
    await queryRunner.query(`
            CREATE TABLE "steps" (
                "id" uuid NOT NULL,
                "project_id" uuid NOT NULL,
                "run_id" uuid NOT NULL,
                "parent_step_id" uuid,
                "name" text NOT NULL,
                "type" text NOT NULL DEFAULT 'custom',
                "position" integer NOT NULL,
                "status" text NOT NULL DEFAULT 'running',
                "input" jsonb,
                "output" jsonb,
                "error" jsonb,
                "reasoning" text,
                "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
                "started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
                "ended_at" TIMESTAMP(3) WITH TIME ZONE,
                "duration_ms" double precision GENERATED ALWAYS AS (
                    extract(
                        epoch
                        from ("ended_at" - "started_at")
                    ) * 1000
                ) STORED,
                "reported_in" integer,
                "reported_out" integer,
                "stored_in" integer NOT NULL DEFAULT '0',
                "stored_out" integer NOT NULL DEFAULT '0',
                "candidates_in" integer GENERATED ALWAYS AS (coalesce("reported_in", "stored_in")) STORED NOT NULL,
                "candidates_out" integer GENERATED ALWAYS AS (coalesce("reported_out", "stored_out")) STORED NOT NULL,
                "elimination_ratio" double precision GENERATED ALWAYS AS (
                    CASE
                        WHEN coalesce("reported_in", "stored_in") > 0 THEN 1 - coalesce("reported_out", "stored_out")::double precision / coalesce("reported_in", "stored_in")
                    END
                ) STORED,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "chk_steps_type" CHECK (
                    "type" IN (
                        'llm',
                        'retrieval',
                        'filter',
                        'rank',
                        'transform',
                        'tool',
                        'custom'
                    )
                ),
                CONSTRAINT "chk_steps_ended_after_started" CHECK (
                    "ended_at" IS NULL
                    OR "ended_at" >= "started_at"
                ),
                CONSTRAINT "chk_steps_status" CHECK (
                    "status" IN (
                        'running',
                        'success',
                        'error',
                        'cancelled',
                        'timed_out'
                    )
                ),
                CONSTRAINT "PK_65f86ac8996204d11f915f66a5b" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_steps_project_name_started" ON "steps" ("project_id", "name", "started_at", "id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_steps_run_parent_position" ON "steps" ("run_id", "parent_step_id", "position")
        `);
    await queryRunner.query(`
            CREATE TABLE "candidates" (
                "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
                "project_id" uuid NOT NULL,
                "run_id" uuid NOT NULL,
                "step_id" uuid NOT NULL,
                "key" text NOT NULL,
                "decision" text NOT NULL,
                "score" double precision,
                "rank" integer,
                "reason" text,
                "evaluations" jsonb,
                "data" jsonb,
                "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "chk_candidates_decision" CHECK (
                    "decision" IN ('accepted', 'rejected', 'selected')
                ),
                CONSTRAINT "PK_140681296bf033ab1eb95288abb" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_candidates_project_key" ON "candidates" ("project_id", "key")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_candidates_step_decision" ON "candidates" ("step_id", "decision", "id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_candidates_step_key" ON "candidates" ("step_id", "key")
        `);
    await queryRunner.query(`
            ALTER TABLE "api_keys"
            ADD CONSTRAINT "FK_f5de07dbb229225e2be643ff3d0" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "runs"
            ADD CONSTRAINT "FK_116e0228e735b86128438370e90" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "steps"
            ADD CONSTRAINT "FK_a8be2828b42b760f48e38cfd527" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "steps"
            ADD CONSTRAINT "FK_96f5f2c0a8aaade96bafe0a97dc" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "steps"
            ADD CONSTRAINT "FK_3c00a94ddbe6dac63062eb83a94" FOREIGN KEY ("parent_step_id") REFERENCES "steps"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "candidates"
            ADD CONSTRAINT "FK_a3b550928860faf78ff5c34b436" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "candidates"
            ADD CONSTRAINT "FK_438394a7f0fe82d6db2654c2b54" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
    await queryRunner.query(`
            ALTER TABLE "candidates"
            ADD CONSTRAINT "FK_7aba4db146fde589222144cd49d" FOREIGN KEY ("step_id") REFERENCES "steps"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    const database = await queryRunner.getCurrentDatabase();
    await queryRunner.query(`DROP INDEX "public"."idx_runs_tags"`);
    await queryRunner.query(`
            ALTER TABLE "candidates" DROP CONSTRAINT "FK_7aba4db146fde589222144cd49d"
        `);
    await queryRunner.query(`
            ALTER TABLE "candidates" DROP CONSTRAINT "FK_438394a7f0fe82d6db2654c2b54"
        `);
    await queryRunner.query(`
            ALTER TABLE "candidates" DROP CONSTRAINT "FK_a3b550928860faf78ff5c34b436"
        `);
    await queryRunner.query(`
            ALTER TABLE "steps" DROP CONSTRAINT "FK_3c00a94ddbe6dac63062eb83a94"
        `);
    await queryRunner.query(`
            ALTER TABLE "steps" DROP CONSTRAINT "FK_96f5f2c0a8aaade96bafe0a97dc"
        `);
    await queryRunner.query(`
            ALTER TABLE "steps" DROP CONSTRAINT "FK_a8be2828b42b760f48e38cfd527"
        `);
    await queryRunner.query(`
            ALTER TABLE "runs" DROP CONSTRAINT "FK_116e0228e735b86128438370e90"
        `);
    await queryRunner.query(`
            ALTER TABLE "api_keys" DROP CONSTRAINT "FK_f5de07dbb229225e2be643ff3d0"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_candidates_step_key"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_candidates_step_decision"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_candidates_project_key"
        `);
    await queryRunner.query(`
            DROP TABLE "candidates"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_steps_run_parent_position"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_steps_project_name_started"
        `);
    await queryRunner.query(`
            DROP TABLE "steps"
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
      ['GENERATED_COLUMN', 'elimination_ratio', database, 'public', 'steps'],
    );
    await queryRunner.query(
      `
            DELETE FROM "typeorm_metadata"
            WHERE "type" = $1
                AND "name" = $2
                AND "database" = $3
                AND "schema" = $4
                AND "table" = $5
        `,
      ['GENERATED_COLUMN', 'candidates_out', database, 'public', 'steps'],
    );
    await queryRunner.query(
      `
            DELETE FROM "typeorm_metadata"
            WHERE "type" = $1
                AND "name" = $2
                AND "database" = $3
                AND "schema" = $4
                AND "table" = $5
        `,
      ['GENERATED_COLUMN', 'candidates_in', database, 'public', 'steps'],
    );
    await queryRunner.query(
      `
            DELETE FROM "typeorm_metadata"
            WHERE "type" = $1
                AND "name" = $2
                AND "database" = $3
                AND "schema" = $4
                AND "table" = $5
        `,
      ['GENERATED_COLUMN', 'duration_ms', database, 'public', 'steps'],
    );
    await queryRunner.query(`
            DROP INDEX "public"."idx_runs_project_started"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_runs_project_pipeline_started"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_runs_project_status_started"
        `);
    await queryRunner.query(`
            DROP TABLE "runs"
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
      ['GENERATED_COLUMN', 'duration_ms', database, 'public', 'runs'],
    );
    await queryRunner.query(`
            DROP INDEX "public"."idx_api_keys_project"
        `);
    await queryRunner.query(`
            DROP TABLE "api_keys"
        `);
    await queryRunner.query(`
            DROP TABLE "projects"
        `);
  }
}
