import type { MigrationInterface, QueryRunner } from 'typeorm';
import { addDays, createDayPartitions, dayOf } from '../partitions.js';

/**
 * LLM steps, their prices and their rollups:
 * - `steps` gains the LLM fields (model, provider, model parameters, token usage, cost, time to
 *   first token) on the partitioned parent, so every day partition has them. `cost_source` says
 *   where the cost came from (`client`, or `price`: computed from a model price, whose values
 *   at the time are kept in `cost_price`, so a later price change rewrites nothing).
 * - `runs` gains its steps' token and cost totals, kept exact by the step writers' statements
 *   (database/rollups.ts), and the indexes that sort a project's runs by them.
 * - `model_prices`: per project, a model-name pattern (a glob) with prices per million tokens.
 * - `llm_usage_hourly`/`_daily` (tokens and cost per pipeline, step name and model) and
 *   `model_durations_hourly`/`_daily` (latency histogram per pipeline and model), like the
 *   other rollups: the hourly ones partitioned by day, keyed by the hour of the run's start.
 */
export class AddLlmFields1795600300000 implements MigrationInterface {
  name = 'AddLlmFields1795600300000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE "steps"
        ADD COLUMN "model" text,
        ADD COLUMN "provider" text,
        ADD COLUMN "model_parameters" jsonb,
        ADD COLUMN "usage_input" integer,
        ADD COLUMN "usage_output" integer,
        ADD COLUMN "usage_total" integer,
        ADD COLUMN "usage_cache_read" integer,
        ADD COLUMN "usage_cache_write" integer,
        ADD COLUMN "usage_reasoning" integer,
        ADD COLUMN "cost_usd" numeric,
        ADD COLUMN "cost_source" text,
        ADD COLUMN "cost_price" jsonb,
        ADD COLUMN "time_to_first_token_ms" double precision
    `);
    await q.query(`CREATE INDEX "idx_steps_project_model_started" ON "steps" ("project_id", "model", "started_at", "id") WHERE "model" IS NOT NULL`);
    await q.query(`
      ALTER TABLE "runs"
        ADD COLUMN "total_input_tokens" bigint NOT NULL DEFAULT 0,
        ADD COLUMN "total_output_tokens" bigint NOT NULL DEFAULT 0,
        ADD COLUMN "total_tokens" bigint NOT NULL DEFAULT 0,
        ADD COLUMN "total_cost_usd" numeric NOT NULL DEFAULT 0
    `);
    await q.query(`CREATE INDEX "idx_runs_project_cost" ON "runs" ("project_id", "total_cost_usd", "id")`);
    await q.query(`CREATE INDEX "idx_runs_project_tokens" ON "runs" ("project_id", "total_tokens", "id")`);

    await q.query(`
      CREATE TABLE "model_prices" (
        "id" uuid NOT NULL,
        "project_id" uuid NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
        "model_pattern" text NOT NULL,
        "model_regex" text NOT NULL,
        "specificity" integer NOT NULL,
        "input_per_million" numeric NOT NULL,
        "output_per_million" numeric NOT NULL,
        "cache_read_per_million" numeric,
        "cache_write_per_million" numeric,
        "valid_from" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_model_prices" PRIMARY KEY ("project_id", "id")
      )
    `);
    await q.query(
      `CREATE UNIQUE INDEX "uq_model_prices_pattern_from" ON "model_prices" ("project_id", "model_pattern", coalesce("valid_from", '-infinity'::timestamptz))`,
    );

    const rollup = (table: string, grain: 'hour' | 'day', keys: [string, string][], sums: [string, string][]) => `
      CREATE TABLE "${table}_${grain === 'hour' ? 'hourly' : 'daily'}" (
        "project_id" uuid NOT NULL${grain === 'day' ? ' REFERENCES "projects" ("id") ON DELETE CASCADE' : ''},
        "pipeline" text NOT NULL,
        "${grain}" timestamptz NOT NULL,
        ${[...keys, ...sums].map(([name, type]) => `"${name}" ${type} NOT NULL,`).join('\n        ')}
        CONSTRAINT "pk_${table}_${grain === 'hour' ? 'hourly' : 'daily'}" PRIMARY KEY ("project_id", "pipeline", "${grain}", ${keys.map(([k]) => `"${k}"`).join(', ')})
          INCLUDE (${sums.map(([s]) => `"${s}"`).join(', ')})
      )${grain === 'hour' ? ' PARTITION BY RANGE ("hour")' : ''}`;
    const usageKeys: [string, string][] = [
      ['name', 'text'],
      ['model', 'text'],
    ];
    const usageSums: [string, string][] = [
      ['calls', 'integer'],
      ['input_tokens', 'bigint'],
      ['output_tokens', 'bigint'],
      ['total_tokens', 'bigint'],
      ['cache_read_tokens', 'bigint'],
      ['cost_usd', 'numeric'],
    ];
    const durationKeys: [string, string][] = [
      ['model', 'text'],
      ['bucket', 'smallint'],
    ];
    for (const grain of ['hour', 'day'] as const) {
      await q.query(rollup('llm_usage', grain, usageKeys, usageSums));
      await q.query(rollup('model_durations', grain, durationKeys, [['count', 'integer']]));
    }

    // The hourly tables' partitions: every day that has runs, and the days around today.
    const days = new Set<number>();
    const today = dayOf(Date.now());
    for (let d = -1; d <= 7; d++) days.add(addDays(today, d).getTime());
    const runDays: { day: Date }[] = await q.query(`SELECT DISTINCT date_trunc('day', started_at, 'UTC') AS day FROM runs`);
    for (const r of runDays) days.add(new Date(r.day).getTime());
    for (const day of [...days].sort()) await createDayPartitions(q, new Date(day), ['llm_usage_hourly', 'model_durations_hourly']);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const table of ['llm_usage_hourly', 'llm_usage_daily', 'model_durations_hourly', 'model_durations_daily', 'model_prices']) {
      await q.query(`DROP TABLE "${table}"`);
    }
    await q.query(`DROP INDEX "idx_runs_project_cost"`);
    await q.query(`DROP INDEX "idx_runs_project_tokens"`);
    await q.query(
      `ALTER TABLE "runs" DROP COLUMN "total_input_tokens", DROP COLUMN "total_output_tokens", DROP COLUMN "total_tokens", DROP COLUMN "total_cost_usd"`,
    );
    await q.query(`DROP INDEX "idx_steps_project_model_started"`);
    await q.query(
      `ALTER TABLE "steps" ${['model', 'provider', 'model_parameters', 'usage_input', 'usage_output', 'usage_total', 'usage_cache_read', 'usage_cache_write', 'usage_reasoning', 'cost_usd', 'cost_source', 'cost_price', 'time_to_first_token_ms'].map((c) => `DROP COLUMN "${c}"`).join(', ')}`,
    );
  }
}
