import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError, notFound } from '../common/app-error.js';
import { decodeKeyCursor, encodeKeyCursor, pageOf } from '../common/cursor.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Queryable } from '../database/queryable.js';
import type { AppConfig } from '../config/config.js';
import { validateCandidateBatch } from './candidate-batch.validator.js';
import { truncatedFields } from '../common/preview.js';
import { moveRejectionsOfCandidates, type WrittenDecision } from '../database/score-rejections.js';
import { ScoreReadsService } from '../scores/score-reads.service.js';
import type { ScoreDto } from '../scores/scores.dto.js';
import { StepsRepository } from '../steps/steps.repository.js';
import { type CandidateRow, CandidatesRepository } from './candidates.repository.js';
import {
  CANDIDATE_PREVIEW_FIELDS,
  type CandidateDto,
  type CandidateInputDto,
  type CandidateListItemDto,
  type CandidatePageDto,
  type CandidateSummaryDto,
  type ListCandidatesQueryDto,
} from './candidates.dto.js';

const toCandidateDto = (r: CandidateRow, scores: ScoreDto[]): CandidateDto => ({
  key: r.key,
  decision: r.decision,
  score: r.score,
  rank: r.rank,
  reason: r.reason,
  evaluations: r.evaluations,
  data: r.data,
  createdAt: r.created_at.toISOString(),
  scores,
});

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
    private readonly repository: CandidatesRepository,
    private readonly steps: StepsRepository,
    private readonly scores: ScoreReadsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores a batch for a step atomically (all or nothing); replays update instead of duplicating. */
  async createCandidates(projectId: string, stepId: string, body: unknown): Promise<{ stored: number }> {
    const candidates = validateCandidateBatch(body, this.config.maxCandidatesPerRequest);
    assertUniqueKeys(candidates);
    // A step's first batch (the common case) is loaded with COPY; replays, later batches and a
    // batch the database refuses take the statement path (which names what was refused).
    const copied = await this.repository.copyFirstBatch(projectId, stepId, candidates).catch((err: unknown) => {
      if (typeof (err as { code?: unknown }).code === 'string') return undefined;
      throw err;
    });
    if (copied && !copied.found) throw notFound('Step', stepId);
    if (copied?.fresh) return { stored: copied.stored };
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
  async upsertBatches(projectId: string, batches: CandidateBatch[], db?: Queryable, counted: Set<string> = new Set()): Promise<Map<string, number>> {
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
          rows.push({
            step_id: stepId,
            key: c.key,
            decision: c.decision,
            score: c.score,
            rank: c.rank,
            reason: c.reason,
            evaluations: c.evaluations,
            data: c.data,
          });
        }
      }
      payload = JSON.stringify(rows);
    }
    // The step ids as their own parameter: the steps are then found by primary key, whatever
    // the planner believes about the rows jsonb_to_recordset yields.
    const stepIds = [...new Set(batches.map((b) => b.stepId))];
    // The batch and the rejections recorded on its items' scores move together (database/score-rejections.ts).
    const write = async (tx: Queryable) => {
      const result = await this.repository.insertCandidateBatch(projectId, payload, single, stepIds, [...counted], tx);
      const steps = new Map(
        result.filter((r) => r.stored > 0).map((r) => [r.step_id, { id: r.step_id, name: r.name, runId: r.run_id, runStartedAt: r.run_started_at }]),
      );
      const decisions: WrittenDecision[] = [];
      for (const b of batches) {
        const step = steps.get(b.stepId);
        if (step) for (const c of b.candidates) decisions.push({ step, key: c.key, rejected: c.decision === 'rejected' });
      }
      await moveRejectionsOfCandidates(tx, projectId, decisions);
      return new Map(result.map((r) => [r.step_id, r.stored]));
    };
    return db ? write(db) : this.dataSource.transaction(write);
  }

  /** Keeps the exported storage times of a step's candidates (import); idempotent. */
  restoreCreatedAt(
    projectId: string,
    run: { id: string; startedAt: Date },
    stepId: string,
    times: { key: string; createdAt: string }[],
    db?: Queryable,
  ): Promise<void> {
    return this.repository.restoreCreatedAt(projectId, run, stepId, times, db);
  }

  async listCandidates(projectId: string, stepId: string, q: ListCandidatesQueryDto): Promise<CandidatePageDto> {
    await this.assertStep(projectId, stepId);
    const limit = q.limit ?? 100;
    const rows = await this.repository.listCandidatesForStep(
      projectId,
      stepId,
      { decision: q.decision, reason: q.reason, afterKey: q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor) },
      limit + 1,
      this.config.previewChars,
    );
    const scores = await this.scores.ofStepCandidates(
      projectId,
      stepId,
      rows.slice(0, limit).map((r) => r.key),
    );
    return pageOf(
      rows,
      limit,
      (r): CandidateListItemDto => ({ ...toCandidateDto(r, scores.get(r.key) ?? []), truncated: truncatedFields(r, CANDIDATE_PREVIEW_FIELDS) }),
      (r) => encodeKeyCursor(r.key),
    );
  }

  /** One candidate of a step, in full. */
  async findCandidate(projectId: string, stepId: string, key: string): Promise<CandidateDto> {
    const row = await this.repository.findCandidateOfStep(projectId, stepId, key);
    if (!row) throw notFound('Step', stepId);
    if (!row.found) throw new AppError(404, 'CANDIDATE_NOT_FOUND', `Step ${stepId} has no candidate with this key`);
    const scores = await this.scores.ofStepCandidates(projectId, stepId, [key]);
    return toCandidateDto(row, scores.get(key) ?? []);
  }

  async summarize(projectId: string, stepId: string): Promise<CandidateSummaryDto> {
    await this.assertStep(projectId, stepId);
    const [byDecision, reasons] = await Promise.all([this.repository.countByDecision(projectId, stepId), this.repository.countByReason(projectId, stepId)]);
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
    const rows = await this.repository.listDecisionsOfSteps(projectId, stepIds);
    for (const id of stepIds) out.set(id, { kept: new Set(), rejected: new Set() });
    for (const r of rows) out.get(r.step_id)![r.decision === 'rejected' ? 'rejected' : 'kept'].add(r.key);
    return out;
  }

  private async assertStep(projectId: string, stepId: string): Promise<void> {
    if (!(await this.steps.stepExists(projectId, stepId))) throw notFound('Step', stepId);
  }
}
