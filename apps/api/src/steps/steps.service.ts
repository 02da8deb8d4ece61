import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../common/app-error.js';
import { iso } from '../common/dto-helpers.js';
import { type Assignment, createdTimeColumns, endAssignment, updateColumns } from '../common/grouped-update.js';
import type { Queryable } from '../database/queryable.js';
import { type Sql, sql } from '../database/sql.js';
import { createdTimes } from '../domain/lifecycle.js';
import { isEnding } from '../domain/vocabulary.js';
import type { CreateStepDto, StepDto, UpdateStepDto } from './steps.dto.js';
import { type StepRow, StepsRepository } from './steps.repository.js';

export type { StepRow } from './steps.repository.js';

/** A step with every field in full and its children (run comparison walks these). */
export interface FullStepNode extends StepDto {
  children: FullStepNode[];
}

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

@Injectable()
export class StepsService {
  constructor(private readonly repository: StepsRepository) {}

  /**
   * Creates a step under a run (and optionally a parent step of the same run), or updates the
   * fields sent when the client's id already exists there. Position is the next free slot
   * among its siblings.
   */
  async createStep(projectId: string, runId: string, dto: CreateStepDto, eventTime?: Date, db?: Queryable): Promise<{ step: StepDto; created: boolean }> {
    const id = dto.id ?? randomUUID();
    if (dto.parentStepId === id) throw new AppError(400, 'INVALID_PARENT', 'A step cannot be its own parent');

    const check = await this.repository.findRunAndParent(projectId, runId, dto.parentStepId ?? null, db);
    if (check.run_pipeline === null) throw notFound('Run', runId);
    if (dto.parentStepId) {
      if (!check.parent_run_id) throw notFound('Parent step', dto.parentStepId);
      if (check.parent_run_id !== runId) {
        throw new AppError(400, 'PARENT_IN_OTHER_RUN', `Parent step ${dto.parentStepId} belongs to another run`);
      }
    }

    const times = createdTimes({ ...dto, eventTime });
    // On a replay, only the fields present in the request are written; metadata merges. The time
    // is EXCLUDED.updated_at (the column's default, now()): Citus accepts no now() in DO UPDATE.
    const onReplay: Sql[] = [sql`updated_at = EXCLUDED.updated_at`, sql`name = EXCLUDED.name`];
    if (dto.type !== undefined) onReplay.push(sql`type = EXCLUDED.type`);
    if (dto.status !== undefined) onReplay.push(sql`status = EXCLUDED.status`);
    if (dto.input !== undefined) onReplay.push(sql`input = EXCLUDED.input`);
    if (dto.output !== undefined) onReplay.push(sql`output = EXCLUDED.output`);
    if (dto.reasoning !== undefined) onReplay.push(sql`reasoning = EXCLUDED.reasoning`);
    if (dto.startedAt !== undefined) onReplay.push(sql`started_at = EXCLUDED.started_at`);
    if (dto.metadata !== undefined) onReplay.push(sql`metadata = steps.metadata || EXCLUDED.metadata`);
    if (isEnding(dto.status)) onReplay.push(sql`ended_at = COALESCE(steps.ended_at, GREATEST(EXCLUDED.updated_at, EXCLUDED.started_at))`);
    else if (dto.status === 'running') onReplay.push(sql`ended_at = NULL`);

    const row = await this.repository.upsertStep(
      projectId,
      {
        id,
        runId,
        parentStepId: dto.parentStepId ?? null,
        pipeline: check.run_pipeline,
        name: dto.name,
        type: dto.type ?? 'custom',
        status: dto.status ?? 'running',
        input: json(dto.input) ?? null,
        output: json(dto.output) ?? null,
        reasoning: dto.reasoning ?? null,
        metadata: json(dto.metadata ?? {})!,
        startedAt: times.startedAt,
        endedAt: times.endedAt,
      },
      onReplay,
      db,
    );
    if (!row) throw new AppError(409, 'ID_CONFLICT', `Step id ${id} is already used outside this run; choose another id`);
    return { step: toStepDto(row), created: row.inserted };
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
    db?: Queryable,
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
    return this.repository.insertNewSteps(projectId, rows, [...new Set(steps.map((s) => s.runId))], db);
  }

  /**
   * Applies many step updates in one statement, with exactly the semantics of updateStep for
   * each (only the fields sent are written; metadata merges; an ending status sets the end
   * time once). Each step must appear at most once. Answers the ids updated.
   */
  async updateStepsGrouped(projectId: string, updates: { id: string; dto: UpdateStepDto; eventTime?: Date }[], db?: Queryable): Promise<Set<string>> {
    if (updates.length === 0) return new Set();
    const rows = updates.map(({ id, dto, eventTime }) => ({ id, ...updateColumns('', dto, eventTime) }));
    return this.repository.updateStepsGrouped(projectId, rows, db);
  }

  /** `eventTime` (when the client saw the change) stands in for now() as the implicit end time. */
  async updateStep(projectId: string, id: string, dto: UpdateStepDto, eventTime?: Date, db?: Queryable): Promise<StepDto> {
    const set: Assignment[] = [];
    if (dto.status !== undefined) set.push(['status', sql`${dto.status}`]);
    if (dto.output !== undefined) set.push(['output', sql`${json(dto.output)}::jsonb`]);
    if (dto.error !== undefined) set.push(['error', sql`${json(dto.error)}::jsonb`]);
    if (dto.reasoning !== undefined) set.push(['reasoning', sql`${dto.reasoning}`]);
    if (dto.metadata !== undefined) set.push(['metadata', sql`metadata || ${json(dto.metadata)}::jsonb`]);
    if (dto.candidatesIn !== undefined) set.push(['reported_in', sql`${dto.candidatesIn}`]);
    if (dto.candidatesOut !== undefined) set.push(['reported_out', sql`${dto.candidatesOut}`]);
    const end = endAssignment(dto, eventTime);
    if (end) set.push(end);
    const row = await this.repository.updateStep(projectId, id, set, db);
    if (!row) throw notFound('Step', id);
    return toStepDto(row);
  }

  async findStep(projectId: string, id: string): Promise<StepDto> {
    const row = await this.repository.findStep(projectId, id);
    if (!row) throw notFound('Step', id);
    return toStepDto(row);
  }

  /**
   * The run's steps as a tree, every step and every field in full: top-level steps in order,
   * each with its children in order. For run comparison; `getRun` answers a bounded tree
   * (StepTreeService).
   */
  async findStepTree(projectId: string, run: { id: string; startedAt: string }): Promise<FullStepNode[]> {
    const rows = await this.repository.listStepsOfRun(projectId, run.id, new Date(run.startedAt));
    const nodes = new Map<string, FullStepNode>();
    for (const row of rows) nodes.set(row.id, { ...toStepDto(row), children: [] });
    const roots: FullStepNode[] = [];
    for (const node of nodes.values()) {
      const parent = node.parentStepId ? nodes.get(node.parentStepId) : undefined;
      (parent ? parent.children : roots).push(node);
    }
    return roots;
  }

  /** Puts a run's steps at the positions given among their siblings (import); idempotent. */
  restorePositions(projectId: string, run: { id: string; startedAt: Date }, positions: { id: string; position: number }[], db?: Queryable): Promise<void> {
    return this.repository.restorePositions(projectId, run, positions, db);
  }

  /** Closes the still-running steps of runs that timed out (status timed_out), project by project. Answers how many. */
  async timeOutOpenSteps(runs: { project_id: string; id: string }[], db?: Queryable): Promise<number> {
    const byProject = new Map<string, string[]>();
    for (const r of runs) byProject.set(r.project_id, [...(byProject.get(r.project_id) ?? []), r.id]);
    let closed = 0;
    for (const [projectId, ids] of byProject) closed += await this.repository.timeOutOpenSteps(projectId, ids, db);
    return closed;
  }
}
