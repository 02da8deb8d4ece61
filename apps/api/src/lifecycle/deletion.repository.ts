import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TimeIdCursor } from '../common/cursor.js';
import type { Queryable } from '../database/queryable.js';
import { reasonRollups, runRollups, STEP_ROLLUP_COLUMNS, stepRollups } from '../database/rollups.js';
import { moveRejectionRollup } from '../database/score-rejections.js';
import { scoreValueRollup } from '../database/score-values.js';
import { query, queryChanged, type Sql, sql } from '../database/sql.js';
import { StepsRepository } from '../steps/steps.repository.js';
import { keyHash } from './tombstones.js';

/** Which runs a deletion takes: by id, or by filter (every filter given must match). */
export interface RunSelection {
  ids?: string[];
  pipeline?: string;
  status?: string;
  /** Runs started before this time. */
  before?: Date;
  /** Only runs created up to this time (a bulk deletion does not chase runs created after it began). */
  createdUpTo?: Date;
}

/** Runs a chunk locked: their ids, and their distinct start times (which partitions hold their rows). */
export interface LockedRuns {
  ids: string[];
  starts: string[];
}

export interface RemovedCounts {
  runs: number;
  steps: number;
  candidates: number;
}

export interface DeletionLogRow {
  id: string;
  key_id: string | null;
  kind: string;
  filter: Record<string, unknown>;
  counts: Record<string, number>;
  status: string;
  total: number | null;
  done: number;
  created_at: Date;
  finished_at: Date | null;
}

const LOG_COLUMNS = sql.raw('id, key_id, kind, filter, counts, status, total, done, created_at, finished_at');

/**
 * The SQL of deletion, erasure and the tables of the lifecycle module (deleted_runs, erased_keys,
 * deletion_log). Deleting a run writes candidates, steps, runs, their rollups and the tombstone:
 * these statements live together here, against the rule that a table's writes belong to its owner,
 * because one chunk of a deletion is one transaction whose statements must see each other's rows
 * (the candidates' steps for the reason rollups, the runs' ids for the tombstones) and subtract
 * exactly what they removed from the rollups (database/rollups.ts); spread over three modules the
 * chunk would need its transaction and its removed rows passed through three services. The step
 * counters an erasure moves stay the steps module's statement (stepCounterMoves).
 */
@Injectable()
export class DeletionRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly steps: StepsRepository,
  ) {}

  private runWhere(projectId: string, s: RunSelection): Sql {
    const where = [sql`project_id = ${projectId}::uuid`];
    if (s.ids !== undefined) where.push(sql`id = ANY(${s.ids}::uuid[])`);
    if (s.pipeline !== undefined) where.push(sql`pipeline = ${s.pipeline}`);
    if (s.status !== undefined) where.push(sql`status = ${s.status}`);
    if (s.before !== undefined) where.push(sql`started_at < ${s.before}`);
    if (s.createdUpTo !== undefined) where.push(sql`created_at <= ${s.createdUpTo}`);
    return sql.join(where, ' AND ');
  }

  /** How many runs the selection holds, and the database's time of the count. */
  async countRuns(projectId: string, s: RunSelection, db: Queryable = this.dataSource): Promise<{ total: number; now: Date }> {
    const [row] = await query<{ total: number; now: Date }>(
      db,
      sql`SELECT count(*)::int AS total, now() AS now FROM runs WHERE ${this.runWhere(projectId, s)}`,
    );
    return row;
  }

  /**
   * Locks up to `limit` runs of the selection, oldest first, for the caller's transaction to
   * delete (runs first: ingest locks a run before its steps and candidates, so the two never wait
   * on each other in opposite orders). `skipLocked`: leave runs another transaction holds to a
   * later chunk instead of waiting. Answers their ids and starts (the partitions of their rows).
   */
  async lockRuns(db: Queryable, projectId: string, s: RunSelection, limit: number, skipLocked: boolean): Promise<LockedRuns> {
    const rows = await query<{ id: string; started_at: Date }>(
      db,
      sql`SELECT id, started_at FROM runs WHERE ${this.runWhere(projectId, s)} ORDER BY started_at, id LIMIT ${limit}
       FOR UPDATE${sql.raw(skipLocked ? ' SKIP LOCKED' : '')}`,
    );
    return { ids: rows.map((r) => r.id), starts: [...new Set(rows.map((r) => r.started_at.toISOString()))] };
  }

  /**
   * Deletes the runs named (locked by the caller's transaction) with their scores, candidates and steps,
   * subtracts them from the rollups (database/rollups.ts, from the rows each DELETE returns) and,
   * with `tombstones`, leaves one per run. Answers what was removed.
   */
  async deleteRuns(db: Queryable, projectId: string, runs: LockedRuns, tombstones: boolean): Promise<RemovedCounts> {
    if (runs.ids.length === 0) return { runs: 0, steps: 0, candidates: 0 };
    // The runs' starts name the partitions their steps and candidates are in.
    const ofRuns = sql`project_id = ${projectId}::uuid AND run_id = ANY(${runs.ids}::uuid[]) AND run_started_at = ANY(${runs.starts}::timestamptz[])`;
    await moveRejectionRollup(
      db,
      projectId,
      { where: sql`sc.run_id = ANY(${runs.ids}::uuid[]) AND sc.run_started_at = ANY(${runs.starts}::timestamptz[])` },
      -1,
    );
    await query(db, sql`WITH gone AS (DELETE FROM scores WHERE ${ofRuns} RETURNING *)${scoreValueRollup(projectId, [{ from: 'gone', sign: -1 }])} SELECT 1`);
    const [candidates] = await query<{ n: number }>(
      db,
      sql`WITH gone AS (
         DELETE FROM candidates WHERE ${ofRuns} RETURNING step_id, run_id, run_started_at, decision, reason
       ), removed_reasons AS (
         ${this.withStep(projectId)}
       )${reasonRollups([{ from: 'removed_reasons', sign: -1 }])}
       SELECT count(*)::int AS n FROM gone`,
    );
    const [steps] = await query<{ n: number }>(
      db,
      sql`WITH removed_steps AS (
         DELETE FROM steps WHERE ${ofRuns} RETURNING ${sql.raw(STEP_ROLLUP_COLUMNS.join(', '))}
       )${stepRollups([{ from: 'removed_steps', sign: -1 }])}
       SELECT count(*)::int AS n FROM removed_steps`,
    );
    const [removed] = await query<{ n: number }>(
      db,
      sql`WITH removed_runs AS (
         DELETE FROM runs WHERE project_id = ${projectId}::uuid AND id = ANY(${runs.ids}::uuid[]) RETURNING id, project_id, pipeline, started_at, status
       ), tombstones AS (
         INSERT INTO deleted_runs (project_id, run_id) SELECT project_id, id FROM removed_runs WHERE ${tombstones} ON CONFLICT DO NOTHING
       )${runRollups([{ from: 'removed_runs', sign: -1 }])}
       SELECT count(*)::int AS n FROM removed_runs`,
    );
    return { runs: removed.n, steps: steps.n, candidates: candidates.n };
  }

  /** The candidates of `gone` (step_id, run_id, run_started_at, decision, reason) with their step's columns, as the reasons rollup reads them. */
  private withStep(projectId: string): Sql {
    return sql`SELECT s.project_id, s.pipeline, s.run_started_at, s.name AS step_name, s.type AS step_type, g.decision, g.reason FROM gone g
         JOIN steps s ON s.project_id = ${projectId}::uuid AND s.id = g.step_id AND s.run_id = g.run_id AND s.run_started_at = g.run_started_at`;
  }

  /** Deletes the scores of candidates with this key (any step, any run of the project). */
  async deleteKeyScores(db: Queryable, projectId: string, key: string): Promise<void> {
    await moveRejectionRollup(db, projectId, { where: sql`sc.candidate_key = ${key}` }, -1);
    await query(
      db,
      sql`WITH gone AS (DELETE FROM scores WHERE project_id = ${projectId}::uuid AND candidate_key = ${key} RETURNING *)${scoreValueRollup(projectId, [
        { from: 'gone', sign: -1 },
      ])} SELECT 1`,
    );
  }

  /** Records the key as erased (its hash), so candidates with it are not stored again. */
  async insertErasedKey(db: Queryable, projectId: string, key: string): Promise<void> {
    await query(db, sql`INSERT INTO erased_keys (project_id, key_hash) VALUES (${projectId}::uuid, ${keyHash(sql`${key}::text`)}) ON CONFLICT DO NOTHING`);
  }

  /**
   * Deletes up to `limit` candidate rows with this key (any step, any run of the project): each
   * step's stored counters drop by the rows it lost (reported counts stay as the client sent
   * them), with the step rollups (the steps module's statement parts), and the reason rollups by
   * the rejections. Answers the rows erased and the steps changed.
   */
  async eraseKeyChunk(db: Queryable, projectId: string, key: string, limit: number): Promise<{ candidates: number; steps: number }> {
    const [row] = await query<{ candidates: number; steps: number }>(
      db,
      sql`WITH gone AS (
         DELETE FROM candidates c
         USING (SELECT step_id, run_id, run_started_at FROM candidates WHERE project_id = ${projectId}::uuid AND key = ${key} LIMIT ${limit}) x
         WHERE c.project_id = ${projectId}::uuid AND c.key = ${key} AND c.step_id = x.step_id AND c.run_id = x.run_id AND c.run_started_at = x.run_started_at
         RETURNING c.step_id, c.run_id, c.run_started_at, c.decision, c.reason
       ), delta AS (
         SELECT step_id, -count(*)::int AS d_in, -(count(*) FILTER (WHERE decision <> 'rejected'))::int AS d_out FROM gone GROUP BY step_id
       )${this.steps.stepCounterMoves(projectId, 'delta', [])},
       removed_reasons AS (
         ${this.withStep(projectId)}
       )${reasonRollups([{ from: 'removed_reasons', sign: -1 }])}
       SELECT (SELECT count(*) FROM gone)::int AS candidates, (SELECT count(*) FROM counted)::int AS steps`,
    );
    return row;
  }

  async insertLog(
    db: Queryable,
    entry: {
      id: string;
      projectId: string;
      keyId: string | null;
      kind: string;
      filter: object;
      counts: object;
      status: string;
      total: number | null;
      done: number;
    },
  ): Promise<DeletionLogRow> {
    const [row] = await query<DeletionLogRow>(
      db,
      sql`INSERT INTO deletion_log (id, project_id, key_id, kind, filter, counts, status, total, done, finished_at)
       VALUES (${entry.id}, ${entry.projectId}, ${entry.keyId}::uuid, ${entry.kind}, ${JSON.stringify(entry.filter)}::jsonb, ${JSON.stringify(entry.counts)}::jsonb,
               ${entry.status}, ${entry.total}::int, ${entry.done}, CASE WHEN ${entry.status} = 'running' THEN NULL ELSE now() END)
       RETURNING ${LOG_COLUMNS}`,
    );
    return row;
  }

  /**
   * Records a bulk deletion's progress (and, with a final status, its end, by this process's
   * clock: Citus evaluates no now() inside a CASE).
   */
  async updateLog(db: Queryable, id: string, progress: { counts: object; done: number; status: string }): Promise<void> {
    const finishedAt = progress.status === 'running' ? null : new Date();
    await query(
      db,
      sql`UPDATE deletion_log SET counts = ${JSON.stringify(progress.counts)}::jsonb, done = ${progress.done}, status = ${progress.status},
              finished_at = ${finishedAt}::timestamptz
       WHERE id = ${id}`,
    );
  }

  /** Bulk deletions left running by a process that stopped (none runs in this process yet): interrupted. */
  async markRunningInterrupted(db: Queryable = this.dataSource): Promise<number> {
    const rows = await queryChanged<{ id: string }>(
      db,
      sql`UPDATE deletion_log SET status = 'interrupted', finished_at = now() WHERE status = 'running' RETURNING id`,
    );
    return rows.length;
  }

  async findLog(projectId: string, id: string, db: Queryable = this.dataSource): Promise<DeletionLogRow | undefined> {
    const [row] = await query<DeletionLogRow>(db, sql`SELECT ${LOG_COLUMNS} FROM deletion_log WHERE id = ${id} AND project_id = ${projectId}`);
    return row;
  }

  /** The project's deletions, newest first, `limit` rows before the cursor. */
  listLogs(projectId: string, limit: number, before: TimeIdCursor | undefined, db: Queryable = this.dataSource): Promise<DeletionLogRow[]> {
    const after = before ? sql`AND (created_at, id) < (${before.at}, ${before.id}::uuid)` : sql``;
    return query<DeletionLogRow>(
      db,
      sql`SELECT ${LOG_COLUMNS} FROM deletion_log WHERE project_id = ${projectId} ${after} ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
    );
  }
}
