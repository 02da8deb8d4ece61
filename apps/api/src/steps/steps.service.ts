import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../common/app-error.js';
import { iso } from '../common/dto-helpers.js';
import { type Assignment, createdTimeColumns, endAssignment, updateColumns } from '../common/grouped-update.js';
import type { Queryable } from '../database/queryable.js';
import { type Sql, sql } from '../database/sql.js';
import { createdTimes } from '../domain/lifecycle.js';
import { isEnding } from '../domain/vocabulary.js';
import { ScoreReadsService } from '../scores/score-reads.service.js';
import type { LlmFieldsDto, LlmFieldsInputDto } from './llm-fields.dto.js';
import type { CreateStepDto, StepDetailDto, StepDto, UpdateStepDto } from './steps.dto.js';
import { LLM_COLUMN_NAMES, type LlmColumns, type StepRow, StepsRepository } from './steps.repository.js';

export type { StepRow } from './steps.repository.js';

/** A step with every field in full and its children (run comparison walks these). */
export interface FullStepNode extends StepDto {
  children: FullStepNode[];
}

/** A numeric column's text as a number (null stays null). */
const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

/** The LLM fields of a stored step. */
export function llmFieldsOf(r: StepRow): LlmFieldsDto {
  const usage = [r.usage_input, r.usage_output, r.usage_total, r.usage_cache_read, r.usage_cache_write, r.usage_reasoning].some((v) => v !== null)
    ? {
        input: r.usage_input,
        output: r.usage_output,
        total: r.usage_total,
        cacheRead: r.usage_cache_read,
        cacheWrite: r.usage_cache_write,
        reasoning: r.usage_reasoning,
      }
    : null;
  const p = r.cost_price as Record<string, string | number | null> | null;
  return {
    model: r.model,
    provider: r.provider,
    modelParameters: r.model_parameters,
    usage,
    costUsd: num(r.cost_usd),
    costSource: r.cost_source,
    costPrice: p
      ? {
          id: String(p.id),
          modelPattern: String(p.modelPattern),
          inputPerMillion: num(p.inputPerMillion)!,
          outputPerMillion: num(p.outputPerMillion)!,
          cacheReadPerMillion: num(p.cacheReadPerMillion ?? null),
          cacheWritePerMillion: num(p.cacheWritePerMillion ?? null),
          validFrom: p.validFrom ? new Date(p.validFrom).toISOString() : null,
        }
      : null,
    timeToFirstTokenMs: r.time_to_first_token_ms,
  };
}

/**
 * The LLM columns a create or update writes: only the fields sent. `usage` replaces all usage
 * columns (its total defaults to input + output); a `costUsd` is the client's and clears any
 * price used before.
 */
export function llmColumns(dto: LlmFieldsInputDto): LlmColumns {
  const c: LlmColumns = {};
  if (dto.model !== undefined) c.model = dto.model;
  if (dto.provider !== undefined) c.provider = dto.provider;
  if (dto.modelParameters !== undefined) c.model_parameters = dto.modelParameters;
  if (dto.usage !== undefined) {
    const u = dto.usage;
    c.usage_input = u.input ?? null;
    c.usage_output = u.output ?? null;
    c.usage_total = u.total ?? (u.input === undefined && u.output === undefined ? null : Math.min((u.input ?? 0) + (u.output ?? 0), 2_147_483_647));
    c.usage_cache_read = u.cacheRead ?? null;
    c.usage_cache_write = u.cacheWrite ?? null;
    c.usage_reasoning = u.reasoning ?? null;
  }
  if (dto.costUsd !== undefined) {
    c.cost_usd = dto.costUsd;
    c.cost_source = 'client';
    c.cost_price = null;
  }
  if (dto.timeToFirstTokenMs !== undefined) c.time_to_first_token_ms = dto.timeToFirstTokenMs;
  return c;
}

/** Whether a write leaves the step's cost to be computed from the model prices. */
export const needsPrice = (dto: LlmFieldsInputDto | undefined): boolean =>
  dto !== undefined && (dto.model !== undefined || dto.usage !== undefined) && dto.costUsd === undefined;

/** An update as the grouped statements read it: the DTO with its LLM columns beside it. */
const withLlmColumns = <D extends LlmFieldsInputDto>(dto: D): D & LlmColumns => ({ ...dto, ...llmColumns(dto) });

export function toStepDto(r: StepRow): StepDto {
  return {
    ...llmFieldsOf(r),
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
  constructor(
    private readonly repository: StepsRepository,
    private readonly scores: ScoreReadsService,
  ) {}

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
    const llm = llmColumns(dto);
    for (const column of LLM_COLUMN_NAMES) if (column in llm) onReplay.push(sql.raw(`${column} = EXCLUDED.${column}`));

    let row = await this.repository.upsertStep(
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
        llm: JSON.stringify(llm),
      },
      onReplay,
      db,
    );
    if (!row) throw new AppError(409, 'ID_CONFLICT', `Step id ${id} is already used outside this run; choose another id`);
    if (needsPrice(dto)) {
      await this.repository.priceSteps(projectId, [id], db);
      row = { ...(await this.repository.findStep(projectId, id, db))!, inserted: row.inserted };
    }
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
        ...llmColumns(dto),
        ...(dto.update ? updateColumns('u_', withLlmColumns(dto.update.dto), dto.update.eventTime) : {}),
      };
    });
    const inserted = await this.repository.insertNewSteps(projectId, rows, [...new Set(steps.map((s) => s.runId))], db);
    await this.repository.priceSteps(
      projectId,
      steps.filter((s) => inserted.has(s.id) && (needsPrice(s) || needsPrice(s.update?.dto))).map((s) => s.id),
      db,
    );
    return inserted;
  }

  /**
   * Applies many step updates in one statement, with exactly the semantics of updateStep for
   * each (only the fields sent are written; metadata merges; an ending status sets the end
   * time once). Each step must appear at most once. Answers the ids updated.
   */
  async updateStepsGrouped(projectId: string, updates: { id: string; dto: UpdateStepDto; eventTime?: Date }[], db?: Queryable): Promise<Set<string>> {
    if (updates.length === 0) return new Set();
    const rows = updates.map(({ id, dto, eventTime }) => ({ id, ...updateColumns('', withLlmColumns(dto), eventTime) }));
    const updated = await this.repository.updateStepsGrouped(projectId, rows, db);
    await this.repository.priceSteps(
      projectId,
      updates.filter((u) => updated.has(u.id) && needsPrice(u.dto)).map((u) => u.id),
      db,
    );
    return updated;
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
    for (const [column, value] of Object.entries(llmColumns(dto))) {
      // Values are bound as text and cast to the column's type ($n::jsonb for objects).
      set.push([column, value !== null && typeof value === 'object' ? sql`${JSON.stringify(value)}::jsonb` : sql`${value}`]);
    }
    const end = endAssignment(dto, eventTime);
    if (end) set.push(end);
    let row = await this.repository.updateStep(projectId, id, set, db);
    if (!row) throw notFound('Step', id);
    if (needsPrice(dto)) {
      await this.repository.priceSteps(projectId, [id], db);
      row = (await this.repository.findStep(projectId, id, db))!;
    }
    return toStepDto(row);
  }

  async findStep(projectId: string, id: string): Promise<StepDto> {
    const row = await this.repository.findStep(projectId, id);
    if (!row) throw notFound('Step', id);
    return toStepDto(row);
  }

  /** A step in full with its own scores. */
  async findStepWithScores(projectId: string, id: string): Promise<StepDetailDto> {
    const [step, scores] = await Promise.all([this.findStep(projectId, id), this.scores.ofSteps(projectId, [id])]);
    return { ...step, scores: scores.get(id) ?? [] };
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
