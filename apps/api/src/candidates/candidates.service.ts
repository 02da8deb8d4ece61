import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError, notFound } from '../common/app-error.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Queryable } from '../database/queryable.js';
import type { AppConfig } from '../config/config.js';
import { validateCandidateBatch } from './candidate-batch.validator.js';
import { previewColumn, truncatedFields } from '../common/preview.js';
import {
  CANDIDATE_PREVIEW_FIELDS,
  type CandidateDto,
  type CandidateInputDto,
  type CandidateListItemDto,
  type CandidatePageDto,
  type CandidateSummaryDto,
  type ListCandidatesQueryDto,
} from './candidates.dto.js';

interface CandidateRow {
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

const toCandidateDto = (r: CandidateRow): CandidateDto => ({
  key: r.key,
  decision: r.decision,
  score: r.score,
  rank: r.rank,
  reason: r.reason,
  evaluations: r.evaluations,
  data: r.data,
  createdAt: r.created_at.toISOString(),
});

/**
 * One statement writes a whole batch, for one step or several: the rows arrive as a single
 * JSON parameter, are upserted on (step_id, key), and each step's stored counters move by
 * exactly what changed. `prev` reads the batch's keys as they were before the statement, so
 * replays do not inflate the counts. Steps outside the project are ignored (and reported by
 * their absence from the result).
 */
const UPSERT_BATCH = `
WITH input AS (
  SELECT COALESCE($3::uuid, x.step_id) AS step_id, x.key, x.decision, x.score, x.rank, x.reason, x.evaluations, x.data
  FROM jsonb_to_recordset($2::jsonb)
    AS x(step_id uuid, key text, decision text, score double precision, rank integer, reason text, evaluations jsonb, data jsonb)
),
step AS (
  SELECT id, run_id, project_id FROM steps WHERE id = ANY($4::uuid[]) AND project_id IS NOT DISTINCT FROM $1
),
prev AS (
  SELECT c.step_id, c.decision FROM candidates c
  JOIN input i ON c.step_id = i.step_id AND c.key = i.key
  JOIN step s ON s.id = c.step_id
  WHERE NOT (i.step_id = ANY($5::uuid[]))
),
written AS (
  INSERT INTO candidates (project_id, run_id, step_id, key, decision, score, rank, reason, evaluations, data)
  SELECT s.project_id, s.run_id, s.id, i.key, i.decision, i.score, i.rank, i.reason, i.evaluations, i.data
  FROM input i JOIN step s ON s.id = i.step_id
  ON CONFLICT (step_id, key) DO UPDATE SET
    decision = EXCLUDED.decision, score = EXCLUDED.score, rank = EXCLUDED.rank, reason = EXCLUDED.reason,
    evaluations = EXCLUDED.evaluations, data = EXCLUDED.data, updated_at = now()
  RETURNING step_id, decision
),
delta AS (
  SELECT step_id, sum(d_in)::int AS d_in, sum(d_out)::int AS d_out FROM (
    SELECT step_id, 1 AS d_in, (decision <> 'rejected')::int AS d_out FROM written
    UNION ALL
    SELECT step_id, -1, -((decision <> 'rejected')::int) FROM prev
  ) z GROUP BY step_id
),
counted AS (
  UPDATE steps s SET stored_in = s.stored_in + d.d_in, stored_out = s.stored_out + d.d_out, updated_at = now()
  FROM delta d WHERE s.id = d.step_id AND NOT (d.step_id = ANY($5::uuid[]))
  RETURNING s.id
)
SELECT step_id, count(*)::int AS stored, (SELECT count(*) FROM counted)::int AS counted
FROM written GROUP BY step_id`;

export interface CandidateBatch {
  stepId: string;
  candidates: CandidateInputDto[];
}

/** Rejects a batch that names the same key twice (the upsert could not apply both). */
export function assertUniqueKeys(candidates: CandidateInputDto[]): void {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const c of candidates) (seen.has(c.key) ? duplicates : seen).add(c.key);
  if (duplicates.size > 0) {
    const sample = [...duplicates].slice(0, 5);
    throw new AppError(
      400,
      'DUPLICATE_CANDIDATE_KEY',
      `Candidate keys must be unique within a request; repeated: ${sample.join(', ')}`,
      sample.map((key) => ({ field: 'candidates', message: `duplicate key ${key}` })),
    );
  }
}

@Injectable()
export class CandidatesService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores a batch for a step atomically (all or nothing); replays update instead of duplicating. */
  async createCandidates(projectId: string, stepId: string, body: unknown): Promise<{ stored: number }> {
    const candidates = validateCandidateBatch(body, this.config.maxCandidatesPerRequest);
    assertUniqueKeys(candidates);
    const stored = await this.upsertBatches(projectId, [{ stepId, candidates }]);
    if (!stored.has(stepId)) throw notFound('Step', stepId);
    return { stored: stored.get(stepId)! };
  }

  /**
   * Writes validated batches for one or more steps of a project in a single statement.
   * Answers the number stored per step; a step missing from the answer is not in the project.
   * Keys must be unique per step across all the batches.
   */
  /**
   * `counted`: steps whose counters already include these candidates (new steps inserted with
   * their counts by the same ingest batch, so none of their keys is stored yet): their counters
   * are left alone and no earlier decisions are looked up.
   */
  async upsertBatches(projectId: string, batches: CandidateBatch[], db: Queryable = this.dataSource, counted: Set<string> = new Set()): Promise<Map<string, number>> {
    // One step (every POST /v1/steps/:id/candidates): the validated candidates go as they are,
    // with the step id as a parameter, so no per-row copy is made before JSON.stringify (the
    // validator admits only the known fields; a missing one reads as NULL). Several steps (a
    // /v1/ingest batch): one flat list of rows, each with its step id. Either way the input is
    // one flat jsonb_to_recordset, whose row estimate keeps the planner on the (step_id, key) index.
    let payload: string;
    let single: string | null = null;
    if (batches.length === 1) {
      single = batches[0].stepId;
      payload = JSON.stringify(batches[0].candidates);
    } else {
      const rows: unknown[] = [];
      for (const { stepId, candidates } of batches) {
        for (const c of candidates) {
          rows.push({ step_id: stepId, key: c.key, decision: c.decision, score: c.score, rank: c.rank, reason: c.reason, evaluations: c.evaluations, data: c.data });
        }
      }
      payload = JSON.stringify(rows);
    }
    // The step ids as their own parameter: the steps are then found by primary key, whatever
    // the planner believes about the rows jsonb_to_recordset yields.
    const stepIds = [...new Set(batches.map((b) => b.stepId))];
    const result: { step_id: string; stored: number }[] = await db.query(UPSERT_BATCH, [projectId, payload, single, stepIds, [...counted]]);
    return new Map(result.map((r) => [r.step_id, r.stored]));
  }

  async listCandidates(projectId: string, stepId: string, q: ListCandidatesQueryDto): Promise<CandidatePageDto> {
    await this.assertStep(projectId, stepId);
    const limit = q.limit ?? 100;
    const params: unknown[] = [stepId, projectId];
    const where = ['step_id = $1', 'project_id = $2'];
    if (q.decision !== undefined) {
      params.push(q.decision);
      where.push(`decision = $${params.length}`);
    }
    if (q.reason !== undefined) {
      params.push(q.reason);
      where.push(`reason = $${params.length}`);
    }
    if (q.cursor !== undefined) {
      const [after] = decodeCursor(q.cursor, ['string']) as [string];
      if (!/^\d{1,19}$/.test(after)) throw new AppError(400, 'INVALID_CURSOR', 'cursor is not a cursor this API returned');
      params.push(after);
      where.push(`id > $${params.length}::bigint`);
    }
    params.push(limit + 1, this.config.previewChars);
    const rows: CandidateRow[] = await this.dataSource.query(
      `SELECT id, key, decision, score, rank, reason, created_at,
              ${CANDIDATE_PREVIEW_FIELDS.map((f) => previewColumn(f, f, `$${params.length}`)).join(', ')}
       FROM candidates WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length - 1}`,
      params,
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r): CandidateListItemDto => ({
        ...toCandidateDto(r),
        truncated: truncatedFields(r, CANDIDATE_PREVIEW_FIELDS),
      })),
      nextCursor: rows.length > limit ? encodeCursor([page[page.length - 1].id]) : null,
    };
  }

  /** One candidate of a step, in full. */
  async findCandidate(projectId: string, stepId: string, key: string): Promise<CandidateDto> {
    // One round trip tells an unknown step (404 STEP_NOT_FOUND) from an unknown key.
    const rows: (CandidateRow & { found: boolean })[] = await this.dataSource.query(
      `SELECT c.id IS NOT NULL AS found, c.id, c.key, c.decision, c.score, c.rank, c.reason, c.evaluations, c.data, c.created_at
       FROM steps s LEFT JOIN candidates c ON c.step_id = s.id AND c.key = $3
       WHERE s.id = $1 AND s.project_id = $2`,
      [stepId, projectId, key],
    );
    if (rows.length === 0) throw notFound('Step', stepId);
    if (!rows[0].found) throw new AppError(404, 'CANDIDATE_NOT_FOUND', `Step ${stepId} has no candidate with this key`);
    return toCandidateDto(rows[0]);
  }

  async summarize(projectId: string, stepId: string): Promise<CandidateSummaryDto> {
    await this.assertStep(projectId, stepId);
    const [byDecision, reasons] = await Promise.all([
      this.dataSource.query(
        `SELECT decision, count(*)::int AS count FROM candidates WHERE step_id = $1 AND project_id = $2 GROUP BY decision`,
        [stepId, projectId],
      ) as Promise<{ decision: string; count: number }[]>,
      this.dataSource.query(
        `SELECT reason, count(*)::int AS count FROM candidates
         WHERE step_id = $1 AND project_id = $2 AND reason IS NOT NULL
         GROUP BY reason ORDER BY count DESC, reason LIMIT 100`,
        [stepId, projectId],
      ) as Promise<{ reason: string; count: number }[]>,
    ]);
    const counts = { accepted: 0, rejected: 0, selected: 0 };
    for (const row of byDecision) counts[row.decision as keyof typeof counts] = row.count;
    return {
      total: counts.accepted + counts.rejected + counts.selected,
      byDecision: counts,
      reasons,
    };
  }

  /** For each step, the keys it kept (accepted or selected) and the keys it rejected. */
  async keptAndRejectedKeys(projectId: string, stepIds: string[]): Promise<Map<string, { kept: Set<string>; rejected: Set<string> }>> {
    const out = new Map<string, { kept: Set<string>; rejected: Set<string> }>();
    if (stepIds.length === 0) return out;
    const rows: { step_id: string; key: string; decision: string }[] = await this.dataSource.query(
      'SELECT step_id, key, decision FROM candidates WHERE project_id = $1 AND step_id = ANY($2::uuid[])',
      [projectId, stepIds],
    );
    for (const id of stepIds) out.set(id, { kept: new Set(), rejected: new Set() });
    for (const r of rows) out.get(r.step_id)![r.decision === 'rejected' ? 'rejected' : 'kept'].add(r.key);
    return out;
  }

  private async assertStep(projectId: string, stepId: string): Promise<void> {
    const rows = await this.dataSource.query('SELECT 1 FROM steps WHERE id = $1 AND project_id = $2', [stepId, projectId]);
    if (rows.length === 0) throw notFound('Step', stepId);
  }
}
