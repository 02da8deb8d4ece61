import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
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
import type { TimeIdCursor } from '../common/cursor.js';
import type { Queryable } from '../database/queryable.js';
import { columnsAs, runRollups } from '../database/rollups.js';
import { query, type Sql, sql } from '../database/sql.js';
import { type ScoreCondition, scoreFilterSql } from '../scores/score-filter.js';
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
  /** bigint and numeric: PostgreSQL's text of them. */
  total_input_tokens: string;
  total_output_tokens: string;
  total_tokens: string;
  total_cost_usd: string;
}

const RUN_COLUMN_NAMES = [
  'id',
  'pipeline',
  'pipeline_version',
  'status',
  'input',
  'output',
  'error',
  'metadata',
  'tags',
  'started_at',
  'ended_at',
  'duration_ms',
  'created_at',
  'updated_at',
  'total_input_tokens',
  'total_output_tokens',
  'total_tokens',
  'total_cost_usd',
];
const RUN_COLUMNS = sql.raw(RUN_COLUMN_NAMES.join(', '));
/** The columns the run rollups read. */
const RUN_ROLLUP_COLUMNS = ['project_id', 'pipeline', 'started_at', 'status'];

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
  /** Conditions on the run's own scores. */
  scores?: ScoreCondition[];
  from?: Date;
  to?: Date;
  /** Cost and token bounds (numbers as text, compared exactly). */
  minCostUsd?: string;
  maxCostUsd?: string;
  minTokens?: string;
  /** The order (default started_at, newest first) and the position after which the page starts. */
  sort?: RunSort;
  before?: TimeIdCursor;
  after?: { value: string; id: string };
}

/** A listing's order: by start (newest first), or by total cost or tokens, either way, ties by id. */
export type RunSort = '-startedAt' | '-costUsd' | 'costUsd' | '-totalTokens' | 'totalTokens';

const SORT_COLUMN: Record<Exclude<RunSort, '-startedAt'>, string> = {
  '-costUsd': 'total_cost_usd',
  costUsd: 'total_cost_usd',
  '-totalTokens': 'total_tokens',
  totalTokens: 'total_tokens',
};

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
      sql`WITH old AS (SELECT * FROM (
         SELECT r.id, ${columnsAs('r', RUN_ROLLUP_COLUMNS, 'o_')} FROM runs r WHERE r.project_id = ${projectId} AND r.id = ${run.id} FOR UPDATE
       ) locked),
       written AS (
         INSERT INTO runs (id, project_id, pipeline, pipeline_version, status, input, output, metadata, tags, started_at, ended_at)
         SELECT ${run.id}, ${projectId}, ${run.pipeline}, ${run.pipelineVersion}, ${run.status}, ${run.input}::jsonb, ${run.output}::jsonb,
                ${run.metadata}::jsonb, ${run.tags}::text[], ${run.startedAt}, ${run.endedAt}
         WHERE (SELECT count(*) FROM old) >= 0 -- reads (and locks) the old row first: see database/rollups.ts
           AND ${runNotDeleted(projectId, sql`${run.id}::uuid`)}
         ON CONFLICT (project_id, id) DO UPDATE SET ${sql.join(onReplay, ', ')}
         RETURNING ${RUN_COLUMNS}, project_id
       )${runRollups([
         { from: 'written', sign: 1 },
         { from: 'old', sign: -1, prefix: 'o_' },
       ])}
       SELECT ${RUN_COLUMNS}, NOT EXISTS (SELECT 1 FROM old) AS inserted FROM written`,
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
      sql`WITH written AS (
       INSERT INTO runs (id, project_id, pipeline, pipeline_version, input, started_at, ${columnList(set)})
       SELECT x.id, ${projectId}::uuid, x.pipeline, x.pipeline_version, x.input, x.started_at, ${valueList(set)}
       FROM (SELECT *, NULL::jsonb AS error FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(id uuid, pipeline text, pipeline_version text,
            status text, input jsonb, output jsonb, metadata jsonb, tags text[], started_at timestamptz, ended_at timestamptz,
            ${updateColumnTypes('u_')})) x
       WHERE ${runNotDeleted(projectId, sql.raw('x.id'))}
       ON CONFLICT DO NOTHING
       RETURNING ${sql.raw(RUN_ROLLUP_COLUMNS.join(', '))}, id
       )${runRollups([{ from: 'written', sign: 1 }])}
       SELECT id FROM written`,
    );
    return new Set(inserted.map((r) => r.id));
  }

  /**
   * An UPDATE of the runs `where` selects (alias `r`, every project unless `projectId` is given;
   * with `updates`, a relation `u` of per-run update rows joined by id), writing `set`, with the
   * run rollups moved by the change. Answers the run columns and project of the updated rows.
   */
  private updateWithRollups(o: { projectId?: string; updates?: Sql; where: Sql; set: Assignment[] }): Sql {
    return updateWithRollups({
      table: 'runs',
      alias: 'r',
      where: o.projectId === undefined ? o.where : sql`r.project_id = ${o.projectId} AND ${o.where}`,
      updates: o.updates,
      set: o.set,
      rollupColumns: RUN_ROLLUP_COLUMNS,
      keys: ['project_id'],
      rollups: runRollups,
      returning: sql.raw(`${RUN_COLUMN_NAMES.map((c) => `r.${c}`).join(', ')}, r.project_id`),
      select: sql`${RUN_COLUMNS}, project_id`,
    });
  }

  /** Applies many run updates (rows of updateColumns('') with an id) in one statement. Answers the ids updated. */
  async updateRunsGrouped(projectId: string, rows: object[], db: Queryable = this.dataSource): Promise<Set<string>> {
    const updates = sql`SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS u(id uuid, ${updateColumnTypes('')})`;
    const updated = await query<{ id: string }>(
      db,
      this.updateWithRollups({ projectId, updates, where: sql`true`, set: updatedColumns(RUN_UPDATE_FIELDS, 'r', 'u.') }),
    );
    return new Set(updated.map((r) => r.id));
  }

  /** Writes `set` (besides updated_at) to one run; nothing when it is not in the project. */
  async updateRun(projectId: string, id: string, set: Assignment[], db: Queryable = this.dataSource): Promise<RunRow | undefined> {
    const rows = await query<RunRow>(db, this.updateWithRollups({ projectId, where: sql`r.id = ${id}`, set }));
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
        sql`(search @@ to_tsquery('simple', ${f.tsQuery}) OR EXISTS (SELECT 1 FROM steps s WHERE s.project_id = ${projectId} AND s.run_id = runs.id AND s.run_started_at = runs.started_at AND s.search @@ to_tsquery('simple', ${f.tsQuery})))`,
      );
    }
    if (f.scores?.length) where.push(...scoreFilterSql(f.scores, 'run', { project: 'runs.project_id', id: 'runs.id', runStartedAt: 'runs.started_at' }));
    if (f.from !== undefined) where.push(sql`started_at >= ${f.from}`);
    if (f.to !== undefined) where.push(sql`started_at < ${f.to}`);
    if (f.minCostUsd !== undefined) where.push(sql`total_cost_usd >= ${f.minCostUsd}::numeric`);
    if (f.maxCostUsd !== undefined) where.push(sql`total_cost_usd <= ${f.maxCostUsd}::numeric`);
    if (f.minTokens !== undefined) where.push(sql`total_tokens >= ${f.minTokens}::bigint`);
    if (f.before !== undefined) where.push(sql`(started_at, id) < (${f.before.at}, ${f.before.id}::uuid)`);
    const sort = f.sort ?? '-startedAt';
    let order = 'started_at DESC, id DESC';
    if (sort !== '-startedAt') {
      const column = SORT_COLUMN[sort];
      const desc = sort.startsWith('-');
      order = `${column} ${desc ? 'DESC' : 'ASC'}, id ${desc ? 'DESC' : 'ASC'}`;
      if (f.after !== undefined) {
        const cast = column === 'total_tokens' ? 'bigint' : 'numeric';
        where.push(sql`(${sql.raw(column)}, id) ${sql.raw(desc ? '<' : '>')} (${f.after.value}::${sql.raw(cast)}, ${f.after.id}::uuid)`);
      }
    }
    return query<RunRow & { step_count: number; candidate_count: number }>(
      db,
      sql`SELECT page.*, counts.step_count, counts.candidate_count
       FROM (SELECT id, pipeline, pipeline_version, status, error, tags, started_at, ended_at, duration_ms, created_at, updated_at,
                    total_input_tokens, total_output_tokens, total_tokens, total_cost_usd,
                    ${previewColumns(RUN_PREVIEW_FIELDS, previewChars)}
             FROM runs WHERE ${sql.join(where, ' AND ')}
             ORDER BY ${sql.raw(order)} LIMIT ${limit}) page
       CROSS JOIN LATERAL (SELECT count(*)::int AS step_count, COALESCE(max(candidates_in), 0)::int AS candidate_count
                           FROM steps WHERE project_id = ${projectId} AND run_id = page.id AND run_started_at = page.started_at) counts
       ORDER BY ${sql.raw(order.replace(/(\w+) (ASC|DESC)/g, 'page.$1 $2'))}`,
    );
  }

  /**
   * Marks runs still `running` after `timeoutMs` as `timed_out` (their open steps are the steps
   * module's to close). Answers the ids timed out.
   */
  async timeOutStaleRuns(timeoutMs: number, db: Queryable = this.dataSource): Promise<{ project_id: string; id: string }[]> {
    // The time is taken here, not with now(): Citus evaluates no now() inside GREATEST or CASE.
    const now = new Date();
    const stale = sql`r.status = 'running' AND r.started_at < ${new Date(now.getTime() - timeoutMs)}::timestamptz`;
    // Project by project: each UPDATE (which locks its rows) then stays within one project, which
    // on a Citus cluster is one shard group (a locking statement across shards is refused there).
    const projects = await query<{ project_id: string }>(db, sql`SELECT DISTINCT r.project_id FROM runs r WHERE ${stale}`);
    const timedOut: { project_id: string; id: string }[] = [];
    for (const { project_id } of projects) timedOut.push(...(await this.timeOutStaleRunsOf(project_id, stale, now, timeoutMs, db)));
    return timedOut;
  }

  private timeOutStaleRunsOf(projectId: string, stale: Sql, now: Date, timeoutMs: number, db: Queryable): Promise<{ project_id: string; id: string }[]> {
    return query<{ project_id: string; id: string }>(
      db,
      this.updateWithRollups({
        projectId,
        where: stale,
        set: [
          ['status', sql`'timed_out'`],
          ['ended_at', sql`GREATEST(${now}::timestamptz, r.started_at)`],
          // The error as a value: jsonb_build_object is not immutable, and Citus evaluates none inside COALESCE.
          ['error', sql`COALESCE(r.error, ${JSON.stringify({ type: 'Timeout', message: `Run was still running after ${timeoutMs} ms` })}::jsonb)`],
        ],
      }),
    );
  }

  /**
   * Deletes up to `limit` runs (of every project) that started before `before`: retention, once
   * their days' step and candidate partitions are gone. Answers how many.
   */
  async deleteRunsStartedBefore(before: Date, limit: number, db: Queryable = this.dataSource): Promise<number> {
    const rows = await query<{ n: number }>(
      db,
      sql`WITH gone AS (
         DELETE FROM runs WHERE (project_id, id) IN (SELECT project_id, id FROM runs WHERE started_at < ${before} LIMIT ${limit}) RETURNING 1
       ) SELECT count(*)::int AS n FROM gone`,
    );
    return rows[0].n;
  }
}
