import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { previewColumns } from '../common/preview-sql.js';
import type { Queryable } from '../database/queryable.js';
import { query, type Sql, sql } from '../database/sql.js';
import { keyNotErased } from '../lifecycle/tombstones.js';
import { StepsRepository } from '../steps/steps.repository.js';
import { CANDIDATE_PREVIEW_FIELDS, type CandidateDto } from './candidates.dto.js';

export interface CandidateRow {
  id: string;
  key: string;
  decision: string;
  score: number | null;
  rank: number | null;
  reason: string | null;
  evaluations: CandidateDto['evaluations'];
  data: unknown;
  created_at: Date;
}

/** The SQL of the candidates table. */
@Injectable()
export class CandidatesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly steps: StepsRepository,
  ) {}

  /**
   * One statement writes a whole batch, for one step or several: the rows arrive as a single
   * JSON parameter (`payload`; with `single`, every row is for that step and carries no
   * step_id), are upserted on (step_id, key), and each step's stored counters move by exactly
   * what changed (the steps module's statement, embedded). Keys the project erased are not
   * stored (lifecycle/tombstones.ts); a step whose every candidate was erased answers 0 stored. `prev` reads the batch's keys as
   * they were before the statement, so replays do not inflate the counts. Steps outside the
   * project are ignored (and reported by their absence from the result). `counted`: steps
   * whose counters already include these candidates (no earlier decision is looked up; the
   * candidates of an erased key, which are not stored, are taken back out of them).
   */
  async insertCandidateBatch(
    projectId: string,
    payload: string,
    single: string | null,
    stepIds: string[],
    counted: string[],
    db: Queryable = this.dataSource,
  ): Promise<{ step_id: string; stored: number }[]> {
    return query<{ step_id: string; stored: number }>(
      db,
      sql`
WITH input AS (
  SELECT COALESCE(${single}::uuid, x.step_id) AS step_id, x.key, x.decision, x.score, x.rank, x.reason, x.evaluations, x.data
  FROM jsonb_to_recordset(${payload}::jsonb)
    AS x(step_id uuid, key text, decision text, score double precision, rank integer, reason text, evaluations jsonb, data jsonb)
),
step AS (
  SELECT id, run_id, project_id FROM steps WHERE id = ANY(${stepIds}::uuid[]) AND project_id IS NOT DISTINCT FROM ${projectId}::uuid
),
prev AS (
  SELECT c.step_id, c.decision FROM candidates c
  JOIN input i ON c.step_id = i.step_id AND c.key = i.key
  JOIN step s ON s.id = c.step_id
  WHERE NOT (i.step_id = ANY(${counted}::uuid[]))
),
written AS (
  INSERT INTO candidates (project_id, run_id, step_id, key, decision, score, rank, reason, evaluations, data)
  SELECT s.project_id, s.run_id, s.id, i.key, i.decision, i.score, i.rank, i.reason, i.evaluations, i.data
  FROM input i JOIN step s ON s.id = i.step_id
  WHERE ${keyNotErased(projectId, sql.raw('i.key'))}
  ON CONFLICT (step_id, key) DO UPDATE SET
    decision = EXCLUDED.decision, score = EXCLUDED.score, rank = EXCLUDED.rank, reason = EXCLUDED.reason,
    evaluations = EXCLUDED.evaluations, data = EXCLUDED.data, updated_at = now()
  RETURNING step_id, decision
),
erased AS (
  SELECT i.step_id, i.decision FROM input i JOIN step s ON s.id = i.step_id
  WHERE i.step_id = ANY(${counted}::uuid[]) AND NOT ${keyNotErased(projectId, sql.raw('i.key'))}
),
delta AS (
  SELECT step_id, sum(d_in)::int AS d_in, sum(d_out)::int AS d_out FROM (
    SELECT step_id, 1 AS d_in, (decision <> 'rejected')::int AS d_out FROM written WHERE NOT (step_id = ANY(${counted}::uuid[]))
    UNION ALL
    SELECT step_id, -1, -((decision <> 'rejected')::int) FROM prev
    UNION ALL
    SELECT step_id, -1, -((decision <> 'rejected')::int) FROM erased
  ) z GROUP BY step_id
),
counted AS (
  ${this.steps.stepCounterMoves('delta', [])}
)
SELECT s.id AS step_id, count(w.step_id)::int AS stored, (SELECT count(*) FROM counted)::int AS counted
FROM step s LEFT JOIN written w ON w.step_id = s.id GROUP BY s.id`,
    );
  }

  /** A page of a step's candidates after `afterId`, in id order, `evaluations` and `data` as previews. */
  listCandidatesForStep(
    projectId: string,
    stepId: string,
    f: { decision?: string; reason?: string; afterId?: string },
    limit: number,
    previewChars: number,
    db: Queryable = this.dataSource,
  ): Promise<CandidateRow[]> {
    const where: Sql[] = [sql`step_id = ${stepId}`, sql`project_id = ${projectId}`];
    if (f.decision !== undefined) where.push(sql`decision = ${f.decision}`);
    if (f.reason !== undefined) where.push(sql`reason = ${f.reason}`);
    if (f.afterId !== undefined) where.push(sql`id > ${f.afterId}::bigint`);
    return query<CandidateRow>(
      db,
      sql`SELECT id, key, decision, score, rank, reason, created_at,
              ${previewColumns(CANDIDATE_PREVIEW_FIELDS, previewChars)}
       FROM candidates WHERE ${sql.join(where, ' AND ')} ORDER BY id LIMIT ${limit}`,
    );
  }

  /**
   * One candidate of a step, in one round trip: no row means no such step in the project;
   * `found` false, a step without this key.
   */
  async findCandidateOfStep(
    projectId: string,
    stepId: string,
    key: string,
    db: Queryable = this.dataSource,
  ): Promise<(CandidateRow & { found: boolean }) | undefined> {
    const rows = await query<CandidateRow & { found: boolean }>(
      db,
      sql`SELECT c.id IS NOT NULL AS found, c.id, c.key, c.decision, c.score, c.rank, c.reason, c.evaluations, c.data, c.created_at
       FROM steps s LEFT JOIN candidates c ON c.step_id = s.id AND c.key = ${key}
       WHERE s.id = ${stepId} AND s.project_id = ${projectId}`,
    );
    return rows[0];
  }

  countByDecision(projectId: string, stepId: string, db: Queryable = this.dataSource): Promise<{ decision: string; count: number }[]> {
    return query(db, sql`SELECT decision, count(*)::int AS count FROM candidates WHERE step_id = ${stepId} AND project_id = ${projectId} GROUP BY decision`);
  }

  /** The 100 most frequent reasons of a step's candidates. */
  countByReason(projectId: string, stepId: string, db: Queryable = this.dataSource): Promise<{ reason: string; count: number }[]> {
    return query(
      db,
      sql`SELECT reason, count(*)::int AS count FROM candidates
       WHERE step_id = ${stepId} AND project_id = ${projectId} AND reason IS NOT NULL
       GROUP BY reason ORDER BY count DESC, reason LIMIT 100`,
    );
  }

  listDecisionsOfSteps(projectId: string, stepIds: string[], db: Queryable = this.dataSource): Promise<{ step_id: string; key: string; decision: string }[]> {
    return query(db, sql`SELECT step_id, key, decision FROM candidates WHERE project_id = ${projectId} AND step_id = ANY(${stepIds}::uuid[])`);
  }
}
