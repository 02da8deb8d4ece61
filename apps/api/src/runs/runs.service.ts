import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../common/app-error.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { iso } from '../common/dto-helpers.js';
import { createdTimeColumns, SHARED_UPDATE_FIELDS, type UpdateField, updateColumnTypes, updateColumns, updatedColumns } from '../common/grouped-update.js';
import { previewColumn, truncatedFields } from '../common/preview.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { Queryable } from '../database/queryable.js';
import { createdTimes } from '../domain/lifecycle.js';
import { isEnding } from '../domain/vocabulary.js';
import { type CreateRunDto, type ListRunsQueryDto, RUN_PREVIEW_FIELDS, type RunDto, type RunListItemDto, type RunPageDto, type UpdateRunDto } from './runs.dto.js';


export interface RunRow {
  id: string;
  pipeline: string;
  pipeline_version: string | null;
  status: string;
  input: unknown;
  output: unknown;
  error: RunDto['error'];
  metadata: Record<string, unknown>;
  tags: string[];
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number | null;
  created_at: Date;
  updated_at: Date;
}

const RUN_COLUMNS = `id, pipeline, pipeline_version, status, input, output, error, metadata, tags,
  started_at, ended_at, duration_ms, created_at, updated_at`;

/** RUN_COLUMNS with the JSON fields cut to previews of `limit` (a parameter) characters. */
const runPreviewColumns = (limit: string) => `id, pipeline, pipeline_version, status, error, tags,
  started_at, ended_at, duration_ms, created_at, updated_at,
  ${RUN_PREVIEW_FIELDS.map((f) => previewColumn(f, f, limit)).join(', ')}`;

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
  };
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

/** Builds `SET` assignments only for the fields a request carries. */
class Assignments {
  readonly parts: string[] = [];
  constructor(readonly params: unknown[]) {}
  set(column: string, value: unknown, cast = ''): this {
    if (value === undefined) return this;
    this.params.push(value);
    this.parts.push(`${column} = $${this.params.length}${cast}`);
    return this;
  }
  raw(sql: string): this {
    this.parts.push(sql);
    return this;
  }
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

/** What a run update may carry besides its end time. */
const RUN_UPDATE_FIELDS: UpdateField[] = [...SHARED_UPDATE_FIELDS, { key: 'tags', column: 'tags', as: 'text[]' }];

@Injectable()
export class RunsService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Creates a run, or updates the fields sent when the client's id already exists in the project. */
  async createRun(projectId: string, dto: CreateRunDto, eventTime?: Date, db: Queryable = this.dataSource): Promise<{ run: RunDto; created: boolean }> {
    const id = dto.id ?? randomUUID();
    const ending = isEnding(dto.status);
    const times = createdTimes({ ...dto, eventTime });
    const params: unknown[] = [
      id,
      projectId,
      dto.pipeline,
      dto.pipelineVersion ?? null,
      dto.status ?? 'running',
      json(dto.input) ?? null,
      json(dto.output) ?? null,
      json(dto.metadata ?? {}),
      dto.tags ?? [],
      times.startedAt,
      times.endedAt,
    ];
    // On a replay, only the fields present in the request are written; metadata merges.
    const update = new Assignments(params)
      .raw('pipeline = EXCLUDED.pipeline')
      .raw('updated_at = now()');
    if (dto.pipelineVersion !== undefined) update.raw('pipeline_version = EXCLUDED.pipeline_version');
    if (dto.status !== undefined) update.raw('status = EXCLUDED.status');
    if (dto.input !== undefined) update.raw('input = EXCLUDED.input');
    if (dto.output !== undefined) update.raw('output = EXCLUDED.output');
    if (dto.metadata !== undefined) update.raw('metadata = runs.metadata || EXCLUDED.metadata');
    if (dto.tags !== undefined) update.raw('tags = EXCLUDED.tags');
    if (dto.startedAt !== undefined) update.raw('started_at = EXCLUDED.started_at');
    if (ending) update.raw('ended_at = COALESCE(runs.ended_at, GREATEST(now(), EXCLUDED.started_at))');
    else if (dto.status === 'running') update.raw('ended_at = NULL');

    const rows: (RunRow & { inserted: boolean })[] = await db.query(
      `INSERT INTO runs (id, project_id, pipeline, pipeline_version, status, input, output, metadata, tags, started_at, ended_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::text[], $10, $11)
       ON CONFLICT (id) DO UPDATE SET ${update.parts.join(', ')}
       WHERE runs.project_id = EXCLUDED.project_id
       RETURNING ${RUN_COLUMNS}, (xmax = 0) AS inserted`,
      params,
    );
    if (rows.length === 0) {
      // The id exists, but in another project: never touch or reveal it.
      throw new AppError(409, 'ID_CONFLICT', `Run id ${id} cannot be used; choose another id`);
    }
    return { run: toRunDto(rows[0]), created: rows[0].inserted };
  }

  /**
   * Inserts runs whose ids are new, in one statement. Answers the ids actually inserted (an id
   * created concurrently elsewhere is skipped, for the caller to retry through createRun).
   */
  async insertNewRuns(
    projectId: string,
    runs: (CreateRunDto & { id: string; eventTime?: Date; update?: { dto: UpdateRunDto; eventTime?: Date } })[],
    db: Queryable = this.dataSource,
  ): Promise<Set<string>> {
    if (runs.length === 0) return new Set();
    const rows = runs.map((dto) => {
      return {
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
      };
    });
    // A run may carry an update, applied as it is inserted exactly as updateRunsGrouped would apply it after.
    const set = updatedColumns(RUN_UPDATE_FIELDS, 'x', 'x.u_');
    const inserted: { id: string }[] = await db.query(
      `INSERT INTO runs (id, project_id, pipeline, pipeline_version, input, started_at, ${set.map(([column]) => column).join(', ')})
       SELECT x.id, $1, x.pipeline, x.pipeline_version, x.input, x.started_at, ${set.map(([, sql]) => sql).join(',\n              ')}
       FROM (SELECT *, NULL::jsonb AS error FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, pipeline text, pipeline_version text,
            status text, input jsonb, output jsonb, metadata jsonb, tags text[], started_at timestamptz, ended_at timestamptz,
            ${updateColumnTypes('u_')})) x
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [projectId, JSON.stringify(rows)],
    );
    return new Set(inserted.map((r) => r.id));
  }

  /**
   * Applies many run updates in one statement, with exactly the semantics of updateRun for
   * each. Each run must appear at most once. Answers the ids updated.
   */
  async updateRunsGrouped(projectId: string, updates: { id: string; dto: UpdateRunDto; eventTime?: Date }[], db: Queryable = this.dataSource): Promise<Set<string>> {
    if (updates.length === 0) return new Set();
    const rows = updates.map(({ id, dto, eventTime }) => ({ id, ...updateColumns('', dto, eventTime) }));
    const set = updatedColumns(RUN_UPDATE_FIELDS, 'r', 'u.');
    // UPDATE answers [rows, count].
    const [updated]: [{ id: string }[], number] = await db.query(
      `UPDATE runs r SET updated_at = now(), ${set.map(([column, sql]) => `${column} = ${sql}`).join(',\n         ')}
       FROM jsonb_to_recordset($2::jsonb) AS u(id uuid, ${updateColumnTypes('')})
       WHERE r.id = u.id AND r.project_id IS NOT DISTINCT FROM $1 -- by primary key: see database/queryable.ts
       RETURNING r.id`,
      [projectId, JSON.stringify(rows)],
    );
    return new Set(updated.map((r) => r.id));
  }

  /** `eventTime` (when the client saw the change) stands in for now() as the implicit end time. */
  async updateRun(projectId: string, id: string, dto: UpdateRunDto, eventTime?: Date, db: Queryable = this.dataSource): Promise<RunDto> {
    const params: unknown[] = [id, projectId];
    const set = new Assignments(params)
      .set('status', dto.status)
      .set('output', json(dto.output), '::jsonb')
      .set('error', json(dto.error), '::jsonb')
      .set('tags', dto.tags, '::text[]')
      .raw('updated_at = now()');
    if (dto.metadata !== undefined) set.raw(`metadata = metadata || ${set.param(json(dto.metadata))}::jsonb`);
    if (dto.endedAt !== undefined) set.set('ended_at', new Date(dto.endedAt));
    else if (isEnding(dto.status)) {
      set.raw(`ended_at = COALESCE(ended_at, GREATEST(${eventTime ? `${set.param(eventTime)}::timestamptz` : 'now()'}, started_at))`);
    }
    else if (dto.status === 'running') set.raw('ended_at = NULL');

    const [rows] = await db.query(
      `UPDATE runs SET ${set.parts.join(', ')} WHERE id = $1 AND project_id = $2 RETURNING ${RUN_COLUMNS}`,
      params,
    );
    if (rows.length === 0) throw notFound('Run', id);
    return toRunDto(rows[0]);
  }

  async findRun(projectId: string, id: string): Promise<RunDto> {
    const rows: RunRow[] = await this.dataSource.query(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1 AND project_id = $2`,
      [id, projectId],
    );
    if (rows.length === 0) throw notFound('Run', id);
    return toRunDto(rows[0]);
  }

  /** Newest first, keyset-paged on (started_at, id) so pages never skip or repeat a run. */
  async listRuns(projectId: string, q: ListRunsQueryDto): Promise<RunPageDto> {
    const limit = q.limit ?? 50;
    const params: unknown[] = [projectId];
    const where = ['project_id = $1'];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (q.pipeline !== undefined) add((p) => `pipeline = ${p}`, q.pipeline);
    if (q.status !== undefined) add((p) => `status = ${p}`, q.status);
    if (q.tag?.length) add((p) => `tags @> ${p}::text[]`, q.tag);
    if (q.minDurationMs !== undefined) add((p) => `duration_ms >= ${p}`, q.minDurationMs);
    if (q.errorType !== undefined) add((p) => `error_type = ${p}`, q.errorType);
    if (q.metadata !== undefined) add((p) => `metadata @> ${p}::jsonb`, JSON.stringify(q.metadata));
    if (q.q !== undefined) {
      const query = toTsQuery(q.q);
      if (query) {
        params.push(query);
        const p = `$${params.length}`;
        where.push(
          `(search @@ to_tsquery('simple', ${p}) OR EXISTS (SELECT 1 FROM steps s WHERE s.run_id = runs.id AND s.search @@ to_tsquery('simple', ${p})))`,
        );
      }
    }
    if (q.from !== undefined) add((p) => `started_at >= ${p}`, new Date(q.from));
    if (q.to !== undefined) add((p) => `started_at < ${p}`, new Date(q.to));
    if (q.cursor !== undefined) {
      const [startedAt, id] = decodeCursor(q.cursor, ['string', 'string']) as [string, string];
      const at = new Date(startedAt);
      if (Number.isNaN(at.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) throw new AppError(400, 'INVALID_CURSOR', 'cursor is not a cursor this API returned');
      params.push(at, id);
      where.push(`(started_at, id) < ($${params.length - 1}, $${params.length}::uuid)`);
    }
    params.push(limit + 1, this.config.previewChars);
    const rows: RunRow[] = await this.dataSource.query(
      `SELECT ${runPreviewColumns(`$${params.length}`)} FROM runs WHERE ${where.join(' AND ')}
       ORDER BY started_at DESC, id DESC LIMIT $${params.length - 1}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r): RunListItemDto => ({ ...toRunDto(r), truncated: truncatedFields(r, RUN_PREVIEW_FIELDS) })),
      nextCursor: rows.length > limit && last ? encodeCursor([last.started_at.toISOString(), last.id]) : null,
    };
  }
}
