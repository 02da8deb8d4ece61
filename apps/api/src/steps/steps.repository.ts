import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TimeIdCursor } from '../common/cursor.js';
import {
  type Assignment,
  columnList,
  SHARED_UPDATE_FIELDS,
  type UpdateField,
  updateColumnTypes,
  updatedColumns,
  valueList,
  updateWithRollups,
} from '../common/grouped-update.js';
import { previewColumns } from '../common/preview-sql.js';
import type { Queryable } from '../database/queryable.js';
import { columnsAs, STEP_ROLLUP_COLUMNS, stepRollups } from '../database/rollups.js';
import { query, type Sql, sql } from '../database/sql.js';
import { STEP_PREVIEW_FIELDS, type StepDto } from './steps.dto.js';

export interface StepRow {
  id: string;
  run_id: string;
  parent_step_id: string | null;
  name: string;
  type: string;
  position: number;
  status: string;
  input: unknown;
  output: unknown;
  error: StepDto['error'];
  reasoning: string | null;
  metadata: Record<string, unknown>;
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number | null;
  candidates_in: number;
  candidates_out: number;
  elimination_ratio: number | null;
  stored_in: number;
  model: string | null;
  provider: string | null;
  model_parameters: Record<string, unknown> | null;
  usage_input: number | null;
  usage_output: number | null;
  usage_total: number | null;
  usage_cache_read: number | null;
  usage_cache_write: number | null;
  usage_reasoning: number | null;
  /** numeric: PostgreSQL's text of it. */
  cost_usd: string | null;
  cost_source: 'client' | 'price' | null;
  cost_price: Record<string, unknown> | null;
  time_to_first_token_ms: number | null;
}

/** The LLM columns of a step, in the order the writers list them. */
export const LLM_COLUMN_NAMES = [
  'model',
  'provider',
  'model_parameters',
  'usage_input',
  'usage_output',
  'usage_total',
  'usage_cache_read',
  'usage_cache_write',
  'usage_reasoning',
  'cost_usd',
  'cost_source',
  'cost_price',
  'time_to_first_token_ms',
] as const;

/** A step's LLM columns as a write carries them: only those present are written. */
export type LlmColumns = Partial<Record<(typeof LLM_COLUMN_NAMES)[number], unknown>>;

/** The SQL type of each LLM column (for jsonb_to_recordset). */
const LLM_COLUMN_TYPES =
  'model text, provider text, model_parameters jsonb, usage_input integer, usage_output integer, usage_total integer, usage_cache_read integer, ' +
  'usage_cache_write integer, usage_reasoning integer, cost_usd numeric, cost_source text, cost_price jsonb, time_to_first_token_ms double precision';

const STEP_COLUMN_NAMES = [
  'id',
  'run_id',
  'parent_step_id',
  'name',
  'type',
  'position',
  'status',
  'input',
  'output',
  'error',
  'reasoning',
  'metadata',
  'started_at',
  'ended_at',
  'duration_ms',
  'candidates_in',
  'candidates_out',
  'elimination_ratio',
  'stored_in',
  ...LLM_COLUMN_NAMES,
];
const STEP_COLUMNS = sql.raw(STEP_COLUMN_NAMES.join(', '));
/** An UPDATE's RETURNING: the step columns and those the rollups read, of the row as written (alias `s`). */
const STEP_RETURNING = sql.raw([...new Set([...STEP_COLUMN_NAMES, ...STEP_ROLLUP_COLUMNS])].map((c) => `s.${c}`).join(', '));

/** Step columns with the JSON fields cut to previews; `prefix` qualifies them. */
const previewStepColumns = (limit: number, prefix = ''): Sql =>
  sql`${sql.raw(
    [
      'id',
      'run_id',
      'parent_step_id',
      'name',
      'type',
      'position',
      'status',
      'error',
      'reasoning',
      'started_at',
      'ended_at',
      'duration_ms',
      'candidates_in',
      'candidates_out',
      'elimination_ratio',
      'stored_in',
      ...LLM_COLUMN_NAMES,
    ]
      .map((c) => prefix + c)
      .join(', '),
  )},
  ${previewColumns(STEP_PREVIEW_FIELDS, limit, prefix)}`;

/** What a step update may carry besides its end time. */
const STEP_UPDATE_FIELDS: UpdateField[] = [
  ...SHARED_UPDATE_FIELDS,
  { key: 'reasoning', column: 'reasoning', as: 'text' },
  { key: 'candidatesIn', column: 'reported_in', as: 'int' },
  { key: 'candidatesOut', column: 'reported_out', as: 'int' },
  // The LLM fields, as the service flattens them (llmColumns): keys are the column names.
  { key: 'model', column: 'model', as: 'text' },
  { key: 'provider', column: 'provider', as: 'text' },
  { key: 'model_parameters', column: 'model_parameters', as: 'json?' },
  ...['usage_input', 'usage_output', 'usage_total', 'usage_cache_read', 'usage_cache_write', 'usage_reasoning'].map((c): UpdateField => ({
    key: c,
    column: c,
    as: 'int',
  })),
  { key: 'cost_usd', column: 'cost_usd', as: 'numeric' },
  { key: 'cost_source', column: 'cost_source', as: 'text' },
  { key: 'cost_price', column: 'cost_price', as: 'json?' },
  { key: 'time_to_first_token_ms', column: 'time_to_first_token_ms', as: 'float' },
];

/** A new step's columns (JSON fields as JSON text). */
export interface NewStep {
  id: string;
  runId: string;
  parentStepId: string | null;
  pipeline: string;
  name: string;
  type: string;
  status: string;
  input: string | null;
  output: string | null;
  reasoning: string | null;
  metadata: string;
  startedAt: Date;
  endedAt: Date | null;
  /** The LLM columns sent (see llmColumns), JSON text; `{}` when none. */
  llm: string;
}

/** The SQL of the steps table, including the step counters other modules' statements move. */
@Injectable()
export class StepsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The run's pipeline (null: no such run in the project) and the run of the would-be parent step. */
  async findRunAndParent(
    projectId: string,
    runId: string,
    parentStepId: string | null,
    db: Queryable = this.dataSource,
  ): Promise<{ run_pipeline: string | null; parent_run_id: string | null }> {
    const [row] = await query<{ run_pipeline: string | null; parent_run_id: string | null }>(
      db,
      sql`SELECT (SELECT pipeline FROM runs WHERE id = ${runId} AND project_id = ${projectId}) AS run_pipeline,
              (SELECT run_id FROM steps WHERE id = ${parentStepId}::uuid AND project_id = ${projectId}) AS parent_run_id`,
    );
    return row;
  }

  /**
   * Inserts a step at the next free position among its siblings, or on an existing id of the
   * same project and run writes `onReplay` (ON CONFLICT … DO UPDATE fragments, reading EXCLUDED).
   * Answers nothing when the run is not in the project or the id is used by another of its runs.
   * The step inherits its run's start (its partition key); rollups move by the change.
   */
  async upsertStep(projectId: string, step: NewStep, onReplay: Sql[], db: Queryable = this.dataSource): Promise<(StepRow & { inserted: boolean }) | undefined> {
    const rows = await query<StepRow & { inserted: boolean }>(
      db,
      sql`WITH run AS (SELECT started_at FROM runs WHERE project_id = ${projectId} AND id = ${step.runId}),
       old AS (SELECT * FROM (
         SELECT s.id, ${columnsAs('s', STEP_ROLLUP_COLUMNS, 'o_')} FROM steps s
         WHERE s.project_id = ${projectId} AND s.id = ${step.id} AND s.run_id = ${step.runId} FOR UPDATE
       ) locked),
       written AS (
         INSERT INTO steps (id, project_id, run_id, run_started_at, parent_step_id, name, type, status, input, output, reasoning,
                            metadata, started_at, ended_at, position, pipeline, ${sql.raw(LLM_COLUMN_NAMES.join(', '))})
         SELECT ${step.id}, ${projectId}, ${step.runId}, run.started_at, ${step.parentStepId}::uuid, ${step.name}, ${step.type}, ${step.status},
                ${step.input}::jsonb, ${step.output}::jsonb, ${step.reasoning}, ${step.metadata}::jsonb, ${step.startedAt}, ${step.endedAt},
                (SELECT COALESCE(MAX(position) + 1, 0) FROM steps
                  WHERE project_id = ${projectId} AND run_id = ${step.runId}::uuid AND parent_step_id IS NOT DISTINCT FROM ${step.parentStepId}::uuid),
                ${step.pipeline}, ${sql.raw(LLM_COLUMN_NAMES.map((c) => `llm.${c}`).join(', '))}
         FROM run CROSS JOIN jsonb_to_record(${step.llm}::jsonb) AS llm(${sql.raw(LLM_COLUMN_TYPES)})
         WHERE NOT EXISTS (SELECT 1 FROM steps o WHERE o.project_id = ${projectId} AND o.id = ${step.id} AND o.run_id <> ${step.runId})
           AND (SELECT count(*) FROM old) >= 0 -- reads (and locks) the old row first: see database/rollups.ts
         ON CONFLICT (project_id, id, run_id, run_started_at) DO UPDATE SET ${sql.join(onReplay, ', ')}
         RETURNING ${STEP_COLUMNS}, ${sql.raw(STEP_ROLLUP_COLUMNS.filter((c) => !STEP_COLUMN_NAMES.includes(c)).join(', '))}
       )${stepRollups([
         { from: 'written', sign: 1 },
         { from: 'old', sign: -1, prefix: 'o_' },
       ])}
       SELECT ${STEP_COLUMNS}, NOT EXISTS (SELECT 1 FROM old) AS inserted FROM written`,
    );
    return rows[0];
  }

  /**
   * Inserts steps whose ids are new, in one statement (`rows`: jsonb_to_recordset rows with
   * `ord`, the list order, and optionally an update's `u_` columns); positions continue after
   * the siblings stored, in list order. Steps of runs not in the project are not inserted.
   * Answers the ids inserted.
   */
  async insertNewSteps(projectId: string, rows: object[], runIds: string[], db: Queryable = this.dataSource): Promise<Set<string>> {
    const set = updatedColumns(STEP_UPDATE_FIELDS, 'x', 'x.u_');
    const inserted = await query<{ id: string }>(
      db,
      sql`WITH x AS (
         SELECT x.*, NULL::jsonb AS error, NULL::integer AS reported_in, NULL::integer AS reported_out
         FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(id uuid, run_id uuid, parent_step_id uuid, pipeline text, name text, type text,
              status text, input jsonb, output jsonb, reasoning text, metadata jsonb, started_at timestamptz, ended_at timestamptz,
              ord integer, stored_in integer, stored_out integer, ${sql.raw(LLM_COLUMN_TYPES)}, ${updateColumnTypes('u_')})
       ),
       run AS (SELECT id, started_at FROM runs WHERE project_id = ${projectId} AND id = ANY(${runIds}::uuid[])),
       last AS (
         SELECT run_id, parent_step_id, max(position) AS max FROM steps
         WHERE project_id = ${projectId} AND run_id = ANY(${runIds}::uuid[]) GROUP BY run_id, parent_step_id
       ),
       written AS (
         INSERT INTO steps (id, project_id, run_id, run_started_at, parent_step_id, pipeline, name, type, input, started_at, stored_in, stored_out,
                            position, ${columnList(set)})
         SELECT x.id, ${projectId}::uuid, x.run_id, run.started_at, x.parent_step_id, x.pipeline, x.name, x.type, x.input, x.started_at,
                x.stored_in, x.stored_out,
                COALESCE(last.max, -1) + row_number() OVER (PARTITION BY x.run_id, x.parent_step_id ORDER BY x.ord),
                ${valueList(set)}
         FROM x JOIN run ON run.id = x.run_id
         LEFT JOIN last ON last.run_id = x.run_id AND last.parent_step_id IS NOT DISTINCT FROM x.parent_step_id
         ORDER BY x.ord
         ON CONFLICT DO NOTHING
         RETURNING id, ${sql.raw(STEP_ROLLUP_COLUMNS.join(', '))}
       )${stepRollups([{ from: 'written', sign: 1 }])}
       SELECT id FROM written`,
    );
    return new Set(inserted.map((r) => r.id));
  }

  /**
   * An UPDATE of the steps `where` selects (alias `s`; with `updates`, a relation `u` of
   * per-step update rows joined by id), writing `set`, with the step rollups moved by the
   * change. Answers every step column of the updated rows.
   */
  private updateWithRollups(projectId: string, o: { updates?: Sql; where: Sql; set: Assignment[] }): Sql {
    return updateWithRollups({
      table: 'steps',
      alias: 's',
      where: sql`s.project_id = ${projectId} AND ${o.where}`,
      updates: o.updates,
      set: o.set,
      rollupColumns: STEP_ROLLUP_COLUMNS,
      keys: ['project_id', 'run_started_at'],
      rollups: stepRollups,
      returning: STEP_RETURNING,
      select: STEP_COLUMNS,
    });
  }

  /** Applies many step updates (rows of updateColumns('') with an id) in one statement. Answers the ids updated. */
  async updateStepsGrouped(projectId: string, rows: object[], db: Queryable = this.dataSource): Promise<Set<string>> {
    const updates = sql`SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS u(id uuid, ${updateColumnTypes('')})`;
    const updated = await query<{ id: string }>(
      db,
      this.updateWithRollups(projectId, { updates, where: sql`true`, set: updatedColumns(STEP_UPDATE_FIELDS, 's', 'u.') }),
    );
    return new Set(updated.map((r) => r.id));
  }

  /**
   * Computes the cost of the steps named from the project's model prices, unless the client sent
   * one (cost_source `client`): the price a step's cost already used while it still matches the
   * step's model (so a replay, or a later price change, moves nothing), else the project's price
   * whose pattern matches the model (case-insensitively) and that was valid when the step
   * started: the most specific pattern (most literal characters), then the latest `valid_from`.
   * The cost is (non-cached input × input price + cache reads × cache-read price + cache writes ×
   * cache-write price + output × output price) / 1,000,000; null without a price or usage. The
   * price used is kept with the step (cost_price). Rollups and run totals move by the change.
   */
  async priceSteps(projectId: string, ids: string[], db: Queryable = this.dataSource): Promise<void> {
    if (ids.length === 0) return;
    const updates = sql`SELECT s.id,
           COALESCE(CASE WHEN s.cost_price IS NOT NULL AND s.model ~* (s.cost_price->>'regex') THEN s.cost_price END, p.price) AS price
         FROM steps s
         LEFT JOIN LATERAL (
           SELECT jsonb_build_object('id', mp.id, 'modelPattern', mp.model_pattern, 'regex', mp.model_regex,
                    'inputPerMillion', mp.input_per_million, 'outputPerMillion', mp.output_per_million,
                    'cacheReadPerMillion', mp.cache_read_per_million, 'cacheWritePerMillion', mp.cache_write_per_million,
                    'validFrom', mp.valid_from) AS price
           FROM model_prices mp
           WHERE mp.project_id = s.project_id AND s.model ~* mp.model_regex AND (mp.valid_from IS NULL OR mp.valid_from <= s.started_at)
           ORDER BY mp.specificity DESC, mp.valid_from DESC NULLS LAST, mp.created_at DESC, mp.id
           LIMIT 1
         ) p ON true
         WHERE s.project_id = ${projectId} AND s.id = ANY(${ids}::uuid[]) AND s.cost_source IS DISTINCT FROM 'client'`;
    const n = (field: string) => `(u.price->>'${field}')::numeric`;
    const cost = `CASE WHEN u.price IS NULL OR (s.usage_input IS NULL AND s.usage_output IS NULL) THEN NULL ELSE (
        greatest(coalesce(s.usage_input, 0) - coalesce(s.usage_cache_read, 0) - coalesce(s.usage_cache_write, 0), 0) * ${n('inputPerMillion')}
        + coalesce(s.usage_cache_read, 0) * coalesce(${n('cacheReadPerMillion')}, ${n('inputPerMillion')})
        + coalesce(s.usage_cache_write, 0) * coalesce(${n('cacheWritePerMillion')}, ${n('inputPerMillion')})
        + coalesce(s.usage_output, 0) * ${n('outputPerMillion')}) / 1000000 END`;
    await query(
      db,
      this.updateWithRollups(projectId, {
        updates,
        where: sql`true`,
        set: [
          ['cost_usd', sql.raw(cost)],
          ['cost_source', sql.raw(`CASE WHEN (${cost}) IS NULL THEN NULL ELSE 'price' END`)],
          ['cost_price', sql.raw(`CASE WHEN (${cost}) IS NULL THEN NULL ELSE u.price END`)],
        ],
      }),
    );
  }

  /** Writes `set` (besides updated_at) to one step; nothing when it is not in the project. */
  async updateStep(projectId: string, id: string, set: Assignment[], db: Queryable = this.dataSource): Promise<StepRow | undefined> {
    const rows = await query<StepRow>(db, this.updateWithRollups(projectId, { where: sql`s.id = ${id}`, set }));
    return rows[0];
  }

  async findStep(projectId: string, id: string, db: Queryable = this.dataSource): Promise<StepRow | undefined> {
    const rows = await query<StepRow>(db, sql`SELECT ${STEP_COLUMNS} FROM steps WHERE id = ${id} AND project_id = ${projectId}`);
    return rows[0];
  }

  async stepExists(projectId: string, id: string, db: Queryable = this.dataSource): Promise<boolean> {
    const rows = await query(db, sql`SELECT 1 FROM steps WHERE id = ${id} AND project_id = ${projectId}`);
    return rows.length > 0;
  }

  /** Every step of the run (started at `runStartedAt`: its partition), every field in full, in sibling order. */
  listStepsOfRun(projectId: string, runId: string, runStartedAt: Date, db: Queryable = this.dataSource): Promise<StepRow[]> {
    return query<StepRow>(
      db,
      sql`SELECT ${STEP_COLUMNS} FROM steps WHERE project_id = ${projectId} AND run_id = ${runId} AND run_started_at = ${runStartedAt}
       ORDER BY position, started_at, id`,
    );
  }

  /**
   * The first `limit` steps of a run in (started_at, id) order (idx_steps_run_started: reads
   * only those rows), previews, each carrying the run's step count (an index-only scan by run:
   * a run's steps are in its project, and the caller has already found the run in theirs). No
   * recursive CTE for the ancestors: its row estimates (thousands per level) made the planner
   * hash-join the whole steps table and JIT-compile the statement, ~1 s for a 50,000-step run.
   */
  findFirstStepsOfRun(projectId: string, runId: string, runStartedAt: Date, limit: number, previewChars: number, db: Queryable = this.dataSource) {
    return query<StepRow & { total: number }>(
      db,
      sql`SELECT (SELECT count(*)::int FROM steps WHERE project_id = ${projectId} AND run_id = ${runId} AND run_started_at = ${runStartedAt}) AS total,
              ${previewStepColumns(previewChars)}
       FROM steps WHERE project_id = ${projectId} AND run_id = ${runId} AND run_started_at = ${runStartedAt} ORDER BY started_at, id LIMIT ${limit}`,
    );
  }

  /** The steps named, JSON fields as previews, in sibling order. */
  findStepPreviews(projectId: string, ids: string[], previewChars: number, db: Queryable = this.dataSource): Promise<StepRow[]> {
    return query<StepRow>(
      db,
      sql`SELECT ${previewStepColumns(previewChars)} FROM steps
       WHERE id = ANY(${ids}::uuid[]) AND project_id = ${projectId} ORDER BY position, started_at, id`,
    );
  }

  /**
   * One page of the run's steps after `after` in (started_at, id) order, previews, in one round
   * trip: no row means no such run in the project; a row with a null id, a run without (more) steps.
   */
  listRunStepsPage(
    projectId: string,
    runId: string,
    after: TimeIdCursor | undefined,
    limit: number,
    previewChars: number,
    db: Queryable = this.dataSource,
  ): Promise<(StepRow | { id: null })[]> {
    const afterCursor = after ? sql`AND (s.started_at, s.id) > (${after.at}, ${after.id}::uuid)` : sql``;
    return query<StepRow | { id: null }>(
      db,
      sql`SELECT s.* FROM runs r
       LEFT JOIN LATERAL (
         SELECT ${previewStepColumns(previewChars, 's.')} FROM steps s
         WHERE s.project_id = ${projectId} AND s.run_id = r.id AND s.run_started_at = r.started_at ${afterCursor}
         ORDER BY s.started_at, s.id LIMIT ${limit}
       ) s ON true
       WHERE r.id = ${runId} AND r.project_id = ${projectId}
       ORDER BY s.started_at, s.id`,
    );
  }

  /**
   * Sets the positions of a run's steps to the ones given (an import keeps the exported order
   * among siblings). Writes only the rows whose position differs, so repeating it changes nothing.
   */
  async restorePositions(
    projectId: string,
    run: { id: string; startedAt: Date },
    positions: { id: string; position: number }[],
    db: Queryable = this.dataSource,
  ): Promise<void> {
    if (positions.length === 0) return;
    await query(
      db,
      sql`UPDATE steps s SET position = x.position
       FROM jsonb_to_recordset(${JSON.stringify(positions)}::jsonb) AS x(id uuid, position integer)
       WHERE s.project_id = ${projectId} AND s.id = x.id AND s.run_id = ${run.id} AND s.run_started_at = ${run.startedAt}
         AND s.position IS DISTINCT FROM x.position`,
    );
  }

  /** Marks the still-running steps of the runs named (runs of the project that timed out) as timed_out. Answers how many. */
  async timeOutOpenSteps(projectId: string, runIds: string[], db: Queryable = this.dataSource): Promise<number> {
    if (runIds.length === 0) return 0;
    const rows = await query<{ id: string }>(
      db,
      this.updateWithRollups(projectId, {
        where: sql`s.run_id = ANY(${runIds}::uuid[]) AND s.status = 'running'`,
        set: [
          ['status', sql`'timed_out'`],
          // The time is taken here: Citus evaluates no now() inside GREATEST.
          ['ended_at', sql`GREATEST(${new Date()}::timestamptz, s.started_at)`],
        ],
      }),
    );
    return rows.length;
  }

  /**
   * The statement parts that move the stored candidate counters of steps by a delta, for another
   * module's statement to embed (the candidate upsert is one statement on the hot path): CTEs,
   * each led by a comma, that lock the steps as they were, update them and move the step
   * rollups by the change. `deltas` names a relation of (step_id, d_in, d_out) in that
   * statement; steps in `skip` already count their candidates and are left alone. The CTE
   * `counted` holds the ids moved.
   */
  stepCounterMoves(projectId: string, deltas: string, skip: string[]): Sql {
    return sql`,
  counter_old AS (SELECT * FROM (
    SELECT s.id AS o_id, d.d_in, d.d_out, ${columnsAs('s', STEP_ROLLUP_COLUMNS, 'o_')}
    FROM ${sql.raw(deltas)} d JOIN steps s ON s.project_id = ${projectId} AND s.id = d.step_id
    WHERE NOT (d.step_id = ANY(${skip}::uuid[])) AND (d.d_in <> 0 OR d.d_out <> 0)
    FOR UPDATE OF s
  ) locked),
  counted AS (
    UPDATE steps s SET stored_in = s.stored_in + o.d_in, stored_out = s.stored_out + o.d_out, updated_at = now()
    FROM counter_old o WHERE s.project_id = ${projectId} AND s.id = o.o_id AND s.run_started_at = o.o_run_started_at
    RETURNING s.id, ${columnsAs('s', STEP_ROLLUP_COLUMNS)}, ${sql.raw(STEP_ROLLUP_COLUMNS.map((c) => `o.o_${c}`).join(', '))}
  )${stepRollups([
    { from: 'counted', sign: 1 },
    { from: 'counted', sign: -1, prefix: 'o_' },
  ])}`;
  }

  /**
   * Steps stored without their parent because it had not arrived (OpenTelemetry spans:
   * `metadata.otel.parentMissing`, the parent's span id in `metadata.otel.parentSpanId`), whose
   * parent span is among those named (`runIds[i]` with `spanIds[i]`), for every run at once: one
   * statement per export, however many traces it carries. Answers each with its run.
   */
  async findWaitingForParent(
    projectId: string,
    parents: { runId: string; spanId: string }[],
    db: Queryable = this.dataSource,
  ): Promise<{ id: string; runId: string; parentSpanId: string }[]> {
    if (parents.length === 0) return [];
    return query<{ id: string; runId: string; parentSpanId: string }>(
      db,
      sql`WITH p AS (SELECT DISTINCT * FROM unnest(${parents.map((p) => p.runId)}::uuid[], ${parents.map((p) => p.spanId)}::text[]) AS p(run_id, span_id)),
       r AS (SELECT id, started_at FROM runs WHERE project_id = ${projectId} AND id IN (SELECT run_id FROM p))
       SELECT s.id, s.run_id AS "runId", s.metadata->'otel'->>'parentSpanId' AS "parentSpanId"
       FROM steps s JOIN r ON s.run_id = r.id AND s.run_started_at = r.started_at
       WHERE s.project_id = ${projectId} AND s.parent_step_id IS NULL AND s.metadata->'otel'->>'parentMissing' = 'true'
         AND (s.run_id, s.metadata->'otel'->>'parentSpanId') IN (SELECT run_id, span_id FROM p)
       ORDER BY s.run_id, s.started_at, s.position, s.id`,
    );
  }

  /**
   * Moves a top-level step of a run under its parent, now stored, at the next free position
   * there, unless the parent is the step itself or one of its descendants (a cycle). Answers
   * whether it moved.
   */
  async attachToParent(projectId: string, runId: string, stepId: string, parentStepId: string, db: Queryable = this.dataSource): Promise<boolean> {
    const rows = await query<{ id: string }>(
      db,
      sql`WITH RECURSIVE up(id, parent) AS (
           SELECT id, parent_step_id FROM steps WHERE project_id = ${projectId} AND run_id = ${runId}::uuid AND id = ${parentStepId}::uuid
           UNION
           SELECT s.id, s.parent_step_id FROM steps s JOIN up ON s.id = up.parent WHERE s.project_id = ${projectId} AND s.run_id = ${runId}::uuid
         )
         UPDATE steps t SET parent_step_id = ${parentStepId}::uuid, metadata = t.metadata #- '{otel,parentMissing}', updated_at = now(),
                position = (SELECT COALESCE(MAX(c.position) + 1, 0) FROM steps c
                             WHERE c.project_id = ${projectId} AND c.run_id = ${runId}::uuid AND c.parent_step_id = ${parentStepId}::uuid)
         WHERE t.project_id = ${projectId} AND t.run_id = ${runId}::uuid AND t.id = ${stepId}::uuid AND t.parent_step_id IS NULL
           AND t.run_started_at = (SELECT started_at FROM runs WHERE project_id = ${projectId} AND id = ${runId}::uuid)
           AND EXISTS (SELECT 1 FROM up WHERE up.id = ${parentStepId}::uuid) AND NOT EXISTS (SELECT 1 FROM up WHERE up.id = ${stepId}::uuid)
         RETURNING t.id`,
    );
    return rows.length > 0;
  }
}
