import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  type Assignment,
  columnList,
  SHARED_UPDATE_FIELDS,
  setList,
  type UpdateField,
  updateColumnTypes,
  updatedColumns,
  valueList,
} from '../common/grouped-update.js';
import { previewColumns } from '../common/preview-sql.js';
import type { TimeIdCursor } from '../common/cursor.js';
import type { Queryable } from '../database/queryable.js';
import { query, queryChanged, type Sql, sql } from '../database/sql.js';
import { runDeletedQuery, runNotDeleted } from '../lifecycle/tombstones.js';
import type { RunDto } from './runs.dto.js';
import { RUN_PREVIEW_FIELDS } from './runs.dto.js';

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

const RUN_COLUMNS = sql.raw(`id, pipeline, pipeline_version, status, input, output, error, metadata, tags,
  started_at, ended_at, duration_ms, created_at, updated_at`);

/** What a run update may carry besides its end time. */
const RUN_UPDATE_FIELDS: UpdateField[] = [...SHARED_UPDATE_FIELDS, { key: 'tags', column: 'tags', as: 'text[]' }];

/** A new run's columns (JSON fields as JSON text). */
export interface NewRun {
  id: string;
  pipeline: string;
  pipelineVersion: string | null;
  status: string;
  input: string | null;
  output: string | null;
  metadata: string;
  tags: string[];
  startedAt: Date;
  endedAt: Date | null;
}

/** The filters of a run listing, already checked. */
export interface RunFilters {
  pipeline?: string;
  status?: string;
  tags?: string[];
  minDurationMs?: number;
  errorType?: string;
  /** JSON text of an object the metadata must contain. */
  metadata?: string;
  /** A tsquery (see RunsService's toTsQuery) matched against runs and their steps. */
  tsQuery?: string;
  from?: Date;
  to?: Date;
  before?: TimeIdCursor;
}

/** The SQL of the runs table. */
@Injectable()
export class RunsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts a run, or on an existing id of the same project writes `onReplay` (the fields the
   * request carried). Answers nothing when the id belongs to another project or was deleted.
   */
  async upsertRun(projectId: string, run: NewRun, onReplay: Sql[], db: Queryable = this.dataSource): Promise<(RunRow & { inserted: boolean }) | undefined> {
    const rows = await query<RunRow & { inserted: boolean }>(
      db,
      sql`INSERT INTO runs (id, project_id, pipeline, pipeline_version, status, input, output, metadata, tags, started_at, ended_at)
       SELECT ${run.id}::uuid, ${projectId}::uuid, ${run.pipeline}::text, ${run.pipelineVersion}::text, ${run.status}::text, ${run.input}::jsonb,
              ${run.output}::jsonb, ${run.metadata}::jsonb, ${run.tags}::text[], ${run.startedAt}::timestamptz, ${run.endedAt}::timestamptz
       WHERE ${runNotDeleted(projectId, sql`${run.id}::uuid`)}
       ON CONFLICT (id) DO UPDATE SET ${sql.join(onReplay, ', ')}
       WHERE runs.project_id = EXCLUDED.project_id
       RETURNING ${RUN_COLUMNS}, (xmax = 0) AS inserted`,
    );
    return rows[0];
  }

  /**
   * Inserts runs whose ids are new, in one statement (`rows`: jsonb_to_recordset rows, each
   * optionally with an update's `u_` columns, applied as it is inserted exactly as
   * updateRunsGrouped would apply it after). Answers the ids inserted.
   */
  async insertNewRuns(projectId: string, rows: object[], db: Queryable = this.dataSource): Promise<Set<string>> {
    const set = updatedColumns(RUN_UPDATE_FIELDS, 'x', 'x.u_');
    const inserted = await query<{ id: string }>(
      db,
      sql`INSERT INTO runs (id, project_id, pipeline, pipeline_version, input, started_at, ${columnList(set)})
       SELECT x.id, ${projectId}::uuid, x.pipeline, x.pipeline_version, x.input, x.started_at, ${valueList(set)}
       FROM (SELECT *, NULL::jsonb AS error FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(id uuid, pipeline text, pipeline_version text,
            status text, input jsonb, output jsonb, metadata jsonb, tags text[], started_at timestamptz, ended_at timestamptz,
            ${updateColumnTypes('u_')})) x
       WHERE ${runNotDeleted(projectId, sql.raw('x.id'))}
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
    );
    return new Set(inserted.map((r) => r.id));
  }

  /** Applies many run updates (rows of updateColumns('') with an id) in one statement. Answers the ids updated. */
  async updateRunsGrouped(projectId: string, rows: object[], db: Queryable = this.dataSource): Promise<Set<string>> {
    const set = updatedColumns(RUN_UPDATE_FIELDS, 'r', 'u.');
    const updated = await queryChanged<{ id: string }>(
      db,
      sql`UPDATE runs r SET updated_at = now(), ${setList(set)}
       FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS u(id uuid, ${updateColumnTypes('')})
       WHERE r.id = u.id AND r.project_id IS NOT DISTINCT FROM ${projectId} -- by primary key: see database/queryable.ts
       RETURNING r.id`,
    );
    return new Set(updated.map((r) => r.id));
  }

  /** Writes `set` (besides updated_at) to one run; nothing when it is not in the project. */
  async updateRun(projectId: string, id: string, set: Assignment[], db: Queryable = this.dataSource): Promise<RunRow | undefined> {
    const rows = await queryChanged<RunRow>(
      db,
      sql`UPDATE runs SET ${setList([...set, ['updated_at', sql`now()`]])} WHERE id = ${id} AND project_id = ${projectId} RETURNING ${RUN_COLUMNS}`,
    );
    return rows[0];
  }

  /** Whether the project deleted a run with this id (its tombstone). */
  async isRunDeleted(projectId: string, id: string, db: Queryable = this.dataSource): Promise<boolean> {
    const [row] = await query<{ deleted: boolean }>(db, runDeletedQuery(projectId, id));
    return row.deleted;
  }

  async findRun(projectId: string, id: string, db: Queryable = this.dataSource): Promise<RunRow | undefined> {
    const rows = await query<RunRow>(db, sql`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ${id} AND project_id = ${projectId}`);
    return rows[0];
  }

  /** Newest first on (started_at, id), `limit` rows, JSON fields cut to previews of `previewChars`. */
  /**
   * A page of runs, newest first, each with its step count and the most candidates any of its
   * steps considered (counted over the page's runs only, through the steps' run index).
   */
  async listRuns(
    projectId: string,
    f: RunFilters,
    limit: number,
    previewChars: number,
    db: Queryable = this.dataSource,
  ): Promise<(RunRow & { step_count: number; candidate_count: number })[]> {
    const where = [sql`project_id = ${projectId}`];
    if (f.pipeline !== undefined) where.push(sql`pipeline = ${f.pipeline}`);
    if (f.status !== undefined) where.push(sql`status = ${f.status}`);
    if (f.tags?.length) where.push(sql`tags @> ${f.tags}::text[]`);
    if (f.minDurationMs !== undefined) where.push(sql`duration_ms >= ${f.minDurationMs}`);
    if (f.errorType !== undefined) where.push(sql`error_type = ${f.errorType}`);
    if (f.metadata !== undefined) where.push(sql`metadata @> ${f.metadata}::jsonb`);
    if (f.tsQuery !== undefined) {
      where.push(
        sql`(search @@ to_tsquery('simple', ${f.tsQuery}) OR EXISTS (SELECT 1 FROM steps s WHERE s.run_id = runs.id AND s.search @@ to_tsquery('simple', ${f.tsQuery})))`,
      );
    }
    if (f.from !== undefined) where.push(sql`started_at >= ${f.from}`);
    if (f.to !== undefined) where.push(sql`started_at < ${f.to}`);
    if (f.before !== undefined) where.push(sql`(started_at, id) < (${f.before.at}, ${f.before.id}::uuid)`);
    return query<RunRow & { step_count: number; candidate_count: number }>(
      db,
      sql`SELECT page.*, counts.step_count, counts.candidate_count
       FROM (SELECT id, pipeline, pipeline_version, status, error, tags, started_at, ended_at, duration_ms, created_at, updated_at,
                    ${previewColumns(RUN_PREVIEW_FIELDS, previewChars)}
             FROM runs WHERE ${sql.join(where, ' AND ')}
             ORDER BY started_at DESC, id DESC LIMIT ${limit}) page
       CROSS JOIN LATERAL (SELECT count(*)::int AS step_count, COALESCE(max(candidates_in), 0)::int AS candidate_count
                           FROM steps WHERE run_id = page.id) counts
       ORDER BY page.started_at DESC, page.id DESC`,
    );
  }

  /**
   * Marks runs still `running` after `timeoutMs` as `timed_out` (their open steps are the steps
   * module's to close). Answers the ids timed out.
   */
  async timeOutStaleRuns(timeoutMs: number, db: Queryable = this.dataSource): Promise<string[]> {
    const rows = await queryChanged<{ id: string }>(
      db,
      sql`UPDATE runs SET status = 'timed_out', ended_at = GREATEST(now(), started_at), updated_at = now(),
              error = COALESCE(error, jsonb_build_object('type', 'Timeout', 'message', 'Run was still running after ' || ${timeoutMs}::text || ' ms'))
       WHERE status = 'running' AND started_at < now() - make_interval(secs => ${timeoutMs}::double precision / 1000)
       RETURNING id`,
    );
    return rows.map((r) => r.id);
  }
}
