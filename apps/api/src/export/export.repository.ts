import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TimeIdCursor } from '../common/cursor.js';
import type { Queryable } from '../database/queryable.js';
import { query, type Sql, sql } from '../database/sql.js';
import type { CandidateRow } from '../candidates/candidates.repository.js';
import type { RunRow } from '../runs/runs.repository.js';
import type { StepRow } from '../steps/steps.repository.js';

/** A run's columns as stored, without those the server derives or keeps for itself. */
export type ExportRunRow = Omit<RunRow, 'duration_ms' | 'created_at' | 'updated_at'>;

/** A step's columns as stored, with the counts a client reported (not the derived ones). */
export type ExportStepRow = Omit<StepRow, 'run_id' | 'duration_ms' | 'candidates_in' | 'candidates_out' | 'elimination_ratio' | 'stored_in'> & {
  reported_in: number | null;
  reported_out: number | null;
};

/** A candidate's columns, without its list id. */
export type ExportCandidateRow = Omit<CandidateRow, 'id'>;

/** Which runs an export takes. */
export interface ExportFilter {
  pipeline?: string;
  from?: Date;
  to?: Date;
}

/**
 * The reads of an export: keyset pages over runs, a run's steps and a step's candidates, each a
 * bounded statement on an index (runs by (project_id, started_at, id), steps by run, candidates
 * by (project_id, step_id, key)), steps and candidates in their run's partition. Columns are named, every statement is scoped by project and run.
 */
@Injectable()
export class ExportRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs after `after` in (started_at, id) order. */
  listRuns(projectId: string, filter: ExportFilter, after: TimeIdCursor | undefined, limit: number, db: Queryable = this.dataSource): Promise<ExportRunRow[]> {
    const where: Sql[] = [sql`project_id = ${projectId}`];
    if (filter.pipeline !== undefined) where.push(sql`pipeline = ${filter.pipeline}`);
    if (filter.from) where.push(sql`started_at >= ${filter.from}`);
    if (filter.to) where.push(sql`started_at < ${filter.to}`);
    if (after) where.push(sql`(started_at, id) > (${after.at}, ${after.id}::uuid)`);
    return query<ExportRunRow>(
      db,
      sql`SELECT id, pipeline, pipeline_version, status, input, output, error, metadata, tags, started_at, ended_at
       FROM runs WHERE ${sql.join(where, ' AND ')} ORDER BY started_at, id LIMIT ${limit}`,
    );
  }

  /** A run's steps after `after` in (started_at, id) order; `runStartedAt` (the run's start) names their partition. */
  listSteps(
    projectId: string,
    runId: string,
    runStartedAt: Date,
    after: TimeIdCursor | undefined,
    limit: number,
    db: Queryable = this.dataSource,
  ): Promise<ExportStepRow[]> {
    const afterCursor = after ? sql`AND (started_at, id) > (${after.at}, ${after.id}::uuid)` : sql``;
    return query<ExportStepRow>(
      db,
      sql`SELECT id, parent_step_id, name, type, position, status, input, output, error, reasoning, metadata,
              started_at, ended_at, reported_in, reported_out, model, provider, model_parameters,
              usage_input, usage_output, usage_total, usage_cache_read, usage_cache_write, usage_reasoning, cost_usd, cost_source, cost_price,
              time_to_first_token_ms
       FROM steps WHERE project_id = ${projectId} AND run_id = ${runId} AND run_started_at = ${runStartedAt} ${afterCursor}
       ORDER BY started_at, id LIMIT ${limit}`,
    );
  }

  /** A step's candidates after the key `afterKey`, in key order. */
  listCandidates(
    projectId: string,
    runId: string,
    runStartedAt: Date,
    stepId: string,
    afterKey: string | undefined,
    limit: number,
    db: Queryable = this.dataSource,
  ): Promise<ExportCandidateRow[]> {
    const afterCursor = afterKey === undefined ? sql`` : sql`AND key > ${afterKey}`;
    return query<ExportCandidateRow>(
      db,
      sql`SELECT key, decision, score, rank, reason, evaluations, data, created_at
       FROM candidates
       WHERE project_id = ${projectId} AND step_id = ${stepId} AND run_id = ${runId} AND run_started_at = ${runStartedAt} ${afterCursor}
       ORDER BY key LIMIT ${limit}`,
    );
  }
}
