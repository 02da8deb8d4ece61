import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppError, notFound } from '../common/app-error.js';
import { iso } from '../common/dto-helpers.js';
import { createdTimeColumns, SHARED_UPDATE_FIELDS, type UpdateField, updateColumnTypes, updateColumns, updatedColumns } from '../common/grouped-update.js';
import type { Queryable } from '../database/queryable.js';
import { createdTimes } from '../domain/lifecycle.js';
import { isEnding } from '../domain/vocabulary.js';
import type { CreateStepDto, StepDto, UpdateStepDto } from './steps.dto.js';

/** A step with every field in full and its children (run comparison walks these). */
export interface FullStepNode extends StepDto {
  children: FullStepNode[];
}

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
}

const STEP_COLUMNS = `id, run_id, parent_step_id, name, type, position, status, input, output, error, reasoning,
  metadata, started_at, ended_at, duration_ms, candidates_in, candidates_out, elimination_ratio, stored_in`;

export function toStepDto(r: StepRow): StepDto {
  return {
    id: r.id,
    runId: r.run_id,
    parentStepId: r.parent_step_id,
    name: r.name,
    type: r.type,
    position: r.position,
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error,
    reasoning: r.reasoning,
    metadata: r.metadata,
    startedAt: r.started_at.toISOString(),
    endedAt: iso(r.ended_at),
    durationMs: r.duration_ms,
    candidatesIn: r.candidates_in,
    candidatesOut: r.candidates_out,
    eliminationRatio: r.elimination_ratio,
    candidatesStored: r.stored_in,
  };
}

const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));

/** What a step update may carry besides its end time. */
const STEP_UPDATE_FIELDS: UpdateField[] = [
  ...SHARED_UPDATE_FIELDS,
  { key: 'reasoning', column: 'reasoning', as: 'text' },
  { key: 'candidatesIn', column: 'reported_in', as: 'int' },
  { key: 'candidatesOut', column: 'reported_out', as: 'int' },
];

@Injectable()
export class StepsService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Creates a step under a run (and optionally a parent step of the same run), or updates the
   * fields sent when the client's id already exists there. Position is the next free slot
   * among its siblings.
   */
  async createStep(projectId: string, runId: string, dto: CreateStepDto, eventTime?: Date, db: Queryable = this.dataSource): Promise<{ step: StepDto; created: boolean }> {
    const id = dto.id ?? randomUUID();
    if (dto.parentStepId === id) throw new AppError(400, 'INVALID_PARENT', 'A step cannot be its own parent');

    const [check] = await db.query(
      `SELECT (SELECT pipeline FROM runs WHERE id = $1 AND project_id = $2) AS run_pipeline,
              (SELECT run_id FROM steps WHERE id = $3 AND project_id = $2) AS parent_run_id`,
      [runId, projectId, dto.parentStepId ?? null],
    );
    if (check.run_pipeline === null) throw notFound('Run', runId);
    if (dto.parentStepId) {
      if (!check.parent_run_id) throw notFound('Parent step', dto.parentStepId);
      if (check.parent_run_id !== runId) {
        throw new AppError(400, 'PARENT_IN_OTHER_RUN', `Parent step ${dto.parentStepId} belongs to another run`);
      }
    }

    const ending = isEnding(dto.status);
    const times = createdTimes({ ...dto, eventTime });
    const updates = ['updated_at = now()', 'name = EXCLUDED.name'];
    for (const [field, column] of [
      ['type', 'type'],
      ['status', 'status'],
      ['input', 'input'],
      ['output', 'output'],
      ['reasoning', 'reasoning'],
      ['startedAt', 'started_at'],
    ] as const) {
      if (dto[field] !== undefined) updates.push(`${column} = EXCLUDED.${column}`);
    }
    if (dto.metadata !== undefined) updates.push('metadata = steps.metadata || EXCLUDED.metadata');
    if (ending) updates.push('ended_at = COALESCE(steps.ended_at, GREATEST(now(), EXCLUDED.started_at))');
    else if (dto.status === 'running') updates.push('ended_at = NULL');

    const rows: (StepRow & { inserted: boolean })[] = await db.query(
      `INSERT INTO steps (id, project_id, run_id, parent_step_id, name, type, status, input, output, reasoning,
                          metadata, started_at, ended_at, position, pipeline)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12, $14,
               (SELECT COALESCE(MAX(position) + 1, 0) FROM steps
                 WHERE run_id = $3 AND parent_step_id IS NOT DISTINCT FROM $4::uuid), $13)
       ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}
       WHERE steps.project_id = EXCLUDED.project_id AND steps.run_id = EXCLUDED.run_id
       RETURNING ${STEP_COLUMNS}, (xmax = 0) AS inserted`,
      [
        id,
        projectId,
        runId,
        dto.parentStepId ?? null,
        dto.name,
        dto.type ?? 'custom',
        dto.status ?? 'running',
        json(dto.input) ?? null,
        json(dto.output) ?? null,
        dto.reasoning ?? null,
        json(dto.metadata ?? {}),
        times.startedAt,
        check.run_pipeline,
        times.endedAt,
      ],
    );
    if (rows.length === 0) throw new AppError(409, 'ID_CONFLICT', `Step id ${id} is already used outside this run; choose another id`);
    return { step: toStepDto(rows[0]), created: rows[0].inserted };
  }

  /**
   * Inserts steps whose ids are new, in one statement; parents may be earlier steps of the same
   * list. Positions continue after the siblings already stored, in list order. A step may carry
   * an update, applied as it is inserted exactly as updateStepsGrouped would apply it after.
   * Answers the ids inserted.
   */
  async insertNewSteps(
    projectId: string,
    steps: (CreateStepDto & {
      id: string;
      runId: string;
      pipeline: string;
      eventTime?: Date;
      update?: { dto: UpdateStepDto; eventTime?: Date };
      /** Candidates stored with the step (its counters start there). */
      stored?: { in: number; out: number };
    })[],
    db: Queryable = this.dataSource,
  ): Promise<Set<string>> {
    if (steps.length === 0) return new Set();
    const rows = steps.map((dto, i) => {
      return {
        id: dto.id,
        run_id: dto.runId,
        parent_step_id: dto.parentStepId ?? null,
        pipeline: dto.pipeline,
        name: dto.name,
        type: dto.type ?? 'custom',
        status: dto.status ?? 'running',
        input: dto.input === undefined ? null : dto.input,
        output: dto.output === undefined ? null : dto.output,
        reasoning: dto.reasoning ?? null,
        metadata: dto.metadata ?? {},
        ...createdTimeColumns(dto),
        ord: i,
        stored_in: dto.stored?.in ?? 0,
        stored_out: dto.stored?.out ?? 0,
        ...(dto.update ? updateColumns('u_', dto.update.dto, dto.update.eventTime) : {}),
      };
    });
    const set = updatedColumns(STEP_UPDATE_FIELDS, 'x', 'x.u_');
    const inserted: { id: string }[] = await db.query(
      `WITH x AS (
         SELECT x.*, NULL::jsonb AS error, NULL::integer AS reported_in, NULL::integer AS reported_out
         FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, run_id uuid, parent_step_id uuid, pipeline text, name text, type text,
              status text, input jsonb, output jsonb, reasoning text, metadata jsonb, started_at timestamptz, ended_at timestamptz,
              ord integer, stored_in integer, stored_out integer, ${updateColumnTypes('u_')})
       ),
       last AS (
         SELECT run_id, parent_step_id, max(position) AS max FROM steps
         WHERE project_id IS NOT DISTINCT FROM $1 AND run_id = ANY($3::uuid[]) GROUP BY run_id, parent_step_id
       )
       INSERT INTO steps (id, project_id, run_id, parent_step_id, pipeline, name, type, input, started_at, stored_in, stored_out, position,
                          ${set.map(([column]) => column).join(', ')})
       SELECT x.id, $1, x.run_id, x.parent_step_id, x.pipeline, x.name, x.type, x.input, x.started_at, x.stored_in, x.stored_out,
              COALESCE(last.max, -1) + row_number() OVER (PARTITION BY x.run_id, x.parent_step_id ORDER BY x.ord),
              ${set.map(([, sql]) => sql).join(',\n              ')}
       FROM x LEFT JOIN last ON last.run_id = x.run_id AND last.parent_step_id IS NOT DISTINCT FROM x.parent_step_id
       ORDER BY x.ord
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [projectId, JSON.stringify(rows), [...new Set(steps.map((s) => s.runId))]],
    );
    return new Set(inserted.map((r) => r.id));
  }

  /**
   * Applies many step updates in one statement, with exactly the semantics of updateStep for
   * each (only the fields sent are written; metadata merges; an ending status sets the end
   * time once). Each step must appear at most once. Answers the ids updated.
   */
  async updateStepsGrouped(projectId: string, updates: { id: string; dto: UpdateStepDto; eventTime?: Date }[], db: Queryable = this.dataSource): Promise<Set<string>> {
    if (updates.length === 0) return new Set();
    const rows = updates.map(({ id, dto, eventTime }) => ({ id, ...updateColumns('', dto, eventTime) }));
    const set = updatedColumns(STEP_UPDATE_FIELDS, 's', 'u.');
    // UPDATE answers [rows, count].
    const [updated]: [{ id: string }[], number] = await db.query(
      `UPDATE steps s SET updated_at = now(), ${set.map(([column, sql]) => `${column} = ${sql}`).join(',\n         ')}
       FROM jsonb_to_recordset($2::jsonb) AS u(id uuid, ${updateColumnTypes('')})
       WHERE s.id = u.id AND s.project_id IS NOT DISTINCT FROM $1 -- by primary key: see database/queryable.ts
       RETURNING s.id`,
      [projectId, JSON.stringify(rows)],
    );
    return new Set(updated.map((r) => r.id));
  }

  /** `eventTime` (when the client saw the change) stands in for now() as the implicit end time. */
  async updateStep(projectId: string, id: string, dto: UpdateStepDto, eventTime?: Date, db: Queryable = this.dataSource): Promise<StepDto> {
    const params: unknown[] = [id, projectId];
    const parts = ['updated_at = now()'];
    const set = (column: string, value: unknown, expr = (p: string) => p) => {
      if (value === undefined) return;
      params.push(value);
      parts.push(`${column} = ${expr(`$${params.length}`)}`);
    };
    set('status', dto.status);
    set('output', json(dto.output), (p) => `${p}::jsonb`);
    set('error', json(dto.error), (p) => `${p}::jsonb`);
    set('reasoning', dto.reasoning);
    set('metadata', json(dto.metadata), (p) => `metadata || ${p}::jsonb`);
    set('reported_in', dto.candidatesIn);
    set('reported_out', dto.candidatesOut);
    if (dto.endedAt !== undefined) set('ended_at', new Date(dto.endedAt));
    else if (isEnding(dto.status)) {
      let end = 'now()';
      if (eventTime) {
        params.push(eventTime);
        end = `$${params.length}::timestamptz`;
      }
      parts.push(`ended_at = COALESCE(ended_at, GREATEST(${end}, started_at))`);
    }
    else if (dto.status === 'running') parts.push('ended_at = NULL');

    const [rows] = await db.query(
      `UPDATE steps SET ${parts.join(', ')} WHERE id = $1 AND project_id = $2 RETURNING ${STEP_COLUMNS}`,
      params,
    );
    if (rows.length === 0) throw notFound('Step', id);
    return toStepDto(rows[0]);
  }

  async findStep(projectId: string, id: string): Promise<StepDto> {
    const rows: StepRow[] = await this.dataSource.query(`SELECT ${STEP_COLUMNS} FROM steps WHERE id = $1 AND project_id = $2`, [
      id,
      projectId,
    ]);
    if (rows.length === 0) throw notFound('Step', id);
    return toStepDto(rows[0]);
  }

  /**
   * The run's steps as a tree, every step and every field in full: top-level steps in order,
   * each with its children in order. For run comparison; `getRun` answers a bounded tree
   * (StepTreeService).
   */
  async findStepTree(projectId: string, runId: string): Promise<FullStepNode[]> {
    const rows: StepRow[] = await this.dataSource.query(
      `SELECT ${STEP_COLUMNS} FROM steps WHERE run_id = $1 AND project_id = $2
       ORDER BY position, started_at, id`,
      [runId, projectId],
    );
    const nodes = new Map<string, FullStepNode>();
    for (const row of rows) nodes.set(row.id, { ...toStepDto(row), children: [] });
    const roots: FullStepNode[] = [];
    for (const node of nodes.values()) {
      const parent = node.parentStepId ? nodes.get(node.parentStepId) : undefined;
      (parent ? parent.children : roots).push(node);
    }
    return roots;
  }
}
