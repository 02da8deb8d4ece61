import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError, badRequest, notFound } from '../common/app-error.js';
import { decodeCursor, decodeTimeIdCursor, encodeCursor, encodeTimeIdCursor, pageOf } from '../common/cursor.js';
import { iso } from '../common/dto-helpers.js';
import { type Assignment, createdTimeColumns, endAssignment, updateColumns } from '../common/grouped-update.js';
import { truncatedFields } from '../common/preview.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { DayPartitions } from '../database/partitions.js';
import type { Queryable } from '../database/queryable.js';
import { type Sql, sql } from '../database/sql.js';
import { createdTimes } from '../domain/lifecycle.js';
import { isEnding } from '../domain/vocabulary.js';
import {
  type CreateRunDto,
  type ListRunsQueryDto,
  RUN_PREVIEW_FIELDS,
  type RunDto,
  type RunListItemDto,
  type RunPageDto,
  type UpdateRunDto,
} from './runs.dto.js';
import { parseScoreFilters, type ScoreCondition } from '../scores/score-filter.js';
import { type RunRow, type RunSort, RunsRepository } from './runs.repository.js';

export type { RunRow } from './runs.repository.js';

export function toRunDto(r: RunRow): RunDto {
  return {
    id: r.id,
    pipeline: r.pipeline,
    pipelineVersion: r.pipeline_version,
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error,
    metadata: r.metadata,
    tags: r.tags,
    startedAt: r.started_at.toISOString(),
    endedAt: iso(r.ended_at),
    durationMs: r.duration_ms,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    inputTokens: Number(r.total_input_tokens),
    outputTokens: Number(r.total_output_tokens),
    totalTokens: Number(r.total_tokens),
    costUsd: Number(r.total_cost_usd),
  };
}

/** A page position of a listing sorted by cost or tokens: the sort, the last row's value (exact text) and id. */
function decodeValueCursor(cursor: string, sort: RunSort): { value: string; id: string } {
  const [tag, value, id] = decodeCursor(cursor, ['string', 'string', 'string']) as [string, string, string];
  if (tag !== sort) throw badRequest('INVALID_CURSOR', `cursor was made for sort=${tag}, not sort=${sort}`);
  if (!/^\d+(\.\d+)?$/.test(value) || !/^[0-9a-f-]{36}$/i.test(id)) throw badRequest('INVALID_CURSOR', 'cursor is not a cursor this API returned');
  return { value, id };
}

/**
 * Turns free text into a safe tsquery: words joined with AND, the last one a prefix. Only
 * letters, digits, `_` and `-` survive, so no tsquery syntax can be injected.
 */
export function toTsQuery(text: string): string | undefined {
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter(Boolean)
    .slice(0, 8);
  if (words.length === 0) return undefined;
  return words.map((w, i) => (i === words.length - 1 ? `${w}:*` : w)).join(' & ');
}

/** JSON parameters go to PostgreSQL as text; undefined stays "not sent". */
const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));

@Injectable()
export class RunsService {
  constructor(
    private readonly repository: RunsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly partitions: DayPartitions,
  ) {}

  /** Creates a run, or updates the fields sent when the client's id already exists in the project. */
  async createRun(projectId: string, dto: CreateRunDto, eventTime?: Date, db?: Queryable): Promise<{ run: RunDto; created: boolean }> {
    const id = dto.id ?? randomUUID();
    const times = createdTimes({ ...dto, eventTime });
    // Inside a transaction the caller has done this before opening it (creating a partition locks its parent).
    if (db === undefined) await this.partitions.ensure([times.startedAt]);
    // On a replay, only the fields present in the request are written; metadata merges. The time
    // is EXCLUDED.updated_at (the column's default, now()): Citus accepts no now() in DO UPDATE.
    const onReplay: Sql[] = [sql`pipeline = EXCLUDED.pipeline`, sql`updated_at = EXCLUDED.updated_at`];
    if (dto.pipelineVersion !== undefined) onReplay.push(sql`pipeline_version = EXCLUDED.pipeline_version`);
    if (dto.status !== undefined) onReplay.push(sql`status = EXCLUDED.status`);
    if (dto.input !== undefined) onReplay.push(sql`input = EXCLUDED.input`);
    if (dto.output !== undefined) onReplay.push(sql`output = EXCLUDED.output`);
    if (dto.metadata !== undefined) onReplay.push(sql`metadata = runs.metadata || EXCLUDED.metadata`);
    if (dto.tags !== undefined) onReplay.push(sql`tags = EXCLUDED.tags`);
    // started_at is kept as first stored: it is the partition key of the run's steps and candidates.
    if (isEnding(dto.status)) onReplay.push(sql`ended_at = COALESCE(runs.ended_at, GREATEST(EXCLUDED.updated_at, runs.started_at))`);
    else if (dto.status === 'running') onReplay.push(sql`ended_at = NULL`);

    const row = await this.repository.upsertRun(
      projectId,
      {
        id,
        pipeline: dto.pipeline,
        pipelineVersion: dto.pipelineVersion ?? null,
        status: dto.status ?? 'running',
        input: json(dto.input) ?? null,
        output: json(dto.output) ?? null,
        metadata: json(dto.metadata ?? {})!,
        tags: dto.tags ?? [],
        startedAt: times.startedAt,
        endedAt: times.endedAt,
      },
      onReplay,
      db,
    );
    if (!row) {
      if (await this.repository.isRunDeleted(projectId, id, db)) throw new AppError(410, 'RUN_DELETED', `Run ${id} was deleted; its id cannot be used again`);
      // The id exists, but in another project: never touch or reveal it.
      throw new AppError(409, 'ID_CONFLICT', `Run id ${id} cannot be used; choose another id`);
    }
    return { run: toRunDto(row), created: row.inserted };
  }

  /**
   * Inserts runs whose ids are new, in one statement. Answers the ids actually inserted (an id
   * created concurrently elsewhere is skipped, for the caller to retry through createRun).
   */
  async insertNewRuns(
    projectId: string,
    runs: (CreateRunDto & { id: string; eventTime?: Date; update?: { dto: UpdateRunDto; eventTime?: Date } })[],
    db?: Queryable,
  ): Promise<Set<string>> {
    if (runs.length === 0) return new Set();
    const rows = runs.map((dto) => ({
      id: dto.id,
      pipeline: dto.pipeline,
      pipeline_version: dto.pipelineVersion ?? null,
      status: dto.status ?? 'running',
      input: dto.input === undefined ? null : dto.input,
      output: dto.output === undefined ? null : dto.output,
      metadata: dto.metadata ?? {},
      tags: dto.tags ?? [],
      ...createdTimeColumns(dto),
      ...(dto.update ? updateColumns('u_', dto.update.dto, dto.update.eventTime) : {}),
    }));
    return this.repository.insertNewRuns(projectId, rows, db);
  }

  /**
   * Applies many run updates in one statement, with exactly the semantics of updateRun for
   * each. Each run must appear at most once. Answers the ids updated.
   */
  async updateRunsGrouped(projectId: string, updates: { id: string; dto: UpdateRunDto; eventTime?: Date }[], db?: Queryable): Promise<Set<string>> {
    if (updates.length === 0) return new Set();
    const rows = updates.map(({ id, dto, eventTime }) => ({ id, ...updateColumns('', dto, eventTime) }));
    return this.repository.updateRunsGrouped(projectId, rows, db);
  }

  /** `eventTime` (when the client saw the change) stands in for now() as the implicit end time. */
  async updateRun(projectId: string, id: string, dto: UpdateRunDto, eventTime?: Date, db?: Queryable): Promise<RunDto> {
    const set: Assignment[] = [];
    if (dto.status !== undefined) set.push(['status', sql`${dto.status}`]);
    if (dto.output !== undefined) set.push(['output', sql`${json(dto.output)}::jsonb`]);
    if (dto.error !== undefined) set.push(['error', sql`${json(dto.error)}::jsonb`]);
    if (dto.tags !== undefined) set.push(['tags', sql`${dto.tags}::text[]`]);
    if (dto.metadata !== undefined) set.push(['metadata', sql`metadata || ${json(dto.metadata)}::jsonb`]);
    const end = endAssignment(dto, eventTime);
    if (end) set.push(end);
    const row = await this.repository.updateRun(projectId, id, set, db);
    if (!row) throw notFound('Run', id);
    return toRunDto(row);
  }

  async findRun(projectId: string, id: string): Promise<RunDto> {
    const row = await this.repository.findRun(projectId, id);
    if (!row) throw notFound('Run', id);
    return toRunDto(row);
  }

  /** Newest first, keyset-paged on (started_at, id) so pages never skip or repeat a run. */
  async listRuns(projectId: string, q: ListRunsQueryDto): Promise<RunPageDto> {
    const limit = q.limit ?? 50;
    const sort: RunSort = q.sort ?? '-startedAt';
    if (q.minCostUsd !== undefined && q.maxCostUsd !== undefined && q.minCostUsd > q.maxCostUsd) {
      throw new AppError(400, 'VALIDATION_FAILED', 'minCostUsd must not exceed maxCostUsd');
    }
    const byValue = sort !== '-startedAt';
    const valueOf = (r: RunRow) => (sort.endsWith('costUsd') ? r.total_cost_usd : r.total_tokens);
    const rows = await this.repository.listRuns(
      projectId,
      {
        pipeline: q.pipeline,
        status: q.status,
        tags: q.tag,
        minDurationMs: q.minDurationMs,
        errorType: q.errorType,
        metadata: q.metadata === undefined ? undefined : JSON.stringify(q.metadata),
        tsQuery: q.q === undefined ? undefined : toTsQuery(q.q),
        scores: q.score === undefined ? undefined : (parseScoreFilters(q.score) as ScoreCondition[]),
        from: q.from === undefined ? undefined : new Date(q.from),
        to: q.to === undefined ? undefined : new Date(q.to),
        minCostUsd: q.minCostUsd === undefined ? undefined : String(q.minCostUsd),
        maxCostUsd: q.maxCostUsd === undefined ? undefined : String(q.maxCostUsd),
        minTokens: q.minTokens === undefined ? undefined : String(q.minTokens),
        sort,
        before: q.cursor === undefined || byValue ? undefined : decodeTimeIdCursor(q.cursor),
        after: q.cursor === undefined || !byValue ? undefined : decodeValueCursor(q.cursor, sort),
      },
      limit + 1,
      this.config.previewChars,
    );
    return pageOf(
      rows,
      limit,
      (r): RunListItemDto => ({
        ...toRunDto(r),
        stepCount: r.step_count,
        candidateCount: r.candidate_count,
        truncated: truncatedFields(r, RUN_PREVIEW_FIELDS),
      }),
      (r) => (byValue ? encodeCursor([sort, valueOf(r), r.id]) : encodeTimeIdCursor(r.started_at, r.id)),
    );
  }

  /** Marks runs running past XRAY_RUN_TIMEOUT as timed_out; answers their ids (the caller closes their steps). */
  /** Retention: deletes up to `limit` runs (any project) started before `before`. Answers how many. */
  deleteRunsStartedBefore(before: Date, limit: number, db?: Queryable): Promise<number> {
    return this.repository.deleteRunsStartedBefore(before, limit, db);
  }

  timeOutStaleRuns(db?: Queryable): Promise<{ project_id: string; id: string }[]> {
    return this.repository.timeOutStaleRuns(this.config.runTimeoutMs, db);
  }
}
