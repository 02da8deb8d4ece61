import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError, notFound } from '../common/app-error.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { previewColumn, truncatedFields } from '../common/preview.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { type ListRunStepsQueryDto, STEP_PREVIEW_FIELDS, type StepListItemDto, type StepNodeDto, type StepPageDto } from './steps.dto.js';
import { type StepRow, toStepDto } from './steps.service.js';

/** Step columns with the JSON fields cut to previews of `limit` (a parameter) characters; `prefix` qualifies them. */
const stepPreviewColumns = (limit: string, prefix = '') => `${prefix}id, ${prefix}run_id, ${prefix}parent_step_id, ${prefix}name, ${prefix}type,
  ${prefix}position, ${prefix}status, ${prefix}error, ${prefix}reasoning, ${prefix}started_at, ${prefix}ended_at, ${prefix}duration_ms,
  ${prefix}candidates_in, ${prefix}candidates_out, ${prefix}elimination_ratio, ${prefix}stored_in,
  ${STEP_PREVIEW_FIELDS.map((f) => previewColumn(`${prefix}${f}`, f, limit)).join(',\n  ')}`;

const toStepListItem = (r: StepRow): StepListItemDto => ({ ...toStepDto(r), truncated: truncatedFields(r, STEP_PREVIEW_FIELDS) }) as StepListItemDto;

export interface BoundedStepTree {
  steps: StepNodeDto[];
  stepCount: number;
  stepsTruncated: boolean;
}

/**
 * What a reader sees of a run's steps: a tree bounded by a step limit, and every step as a flat
 * list paged in (started_at, id) order, both with bounded previews of the JSON fields.
 */
@Injectable()
export class StepTreeService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * At most `limit` steps of the run: the earliest by (started_at, id), each with every
   * ancestor. Children normally start after their parents, so this is simply the first `limit`
   * steps. A step whose ancestors started after it (clock skew between services) brings those
   * ancestors in early and they count against the limit; the first step that no longer fits
   * together with its missing ancestors ends the tree, so the tree is always whole steps with
   * whole ancestor chains, never an orphan, and at most `limit` of them.
   */
  async findBoundedStepTree(projectId: string, runId: string, limit: number): Promise<BoundedStepTree> {
    // The skeleton: the first `limit` steps in order (idx_steps_run_started), and the ancestors
    // of those steps that are not among them. The total counts by run alone (an index-only scan):
    // a run's steps are in its project, and the caller has already found the run in theirs.
    const skeleton: { id: string; parent_step_id: string | null; ord: number | null; total: number }[] = await this.dataSource.query(
      `WITH RECURSIVE first AS (
         SELECT id, parent_step_id, row_number() OVER (ORDER BY started_at, id) AS ord
         FROM steps WHERE run_id = $1 AND project_id = $2 ORDER BY started_at, id LIMIT $3
       ), up AS (
         SELECT parent_step_id AS id FROM first WHERE parent_step_id IS NOT NULL
         UNION
         SELECT s.parent_step_id FROM up JOIN steps s ON s.id = up.id AND s.project_id = $2 WHERE s.parent_step_id IS NOT NULL
       )
       SELECT id, parent_step_id, ord::int AS ord, (SELECT count(*)::int FROM steps WHERE run_id = $1) AS total FROM first
       UNION ALL
       SELECT s.id, s.parent_step_id, NULL, NULL FROM steps s
       WHERE s.id IN (SELECT id FROM up) AND s.project_id = $2 AND s.id NOT IN (SELECT id FROM first)
       ORDER BY ord NULLS LAST`,
      [runId, projectId, limit],
    );
    const stepCount = skeleton[0]?.total ?? 0;
    const parentOf = new Map(skeleton.map((r) => [r.id, r.parent_step_id]));
    const chosen = new Set<string>();
    for (const row of skeleton) {
      if (row.ord === null) break; // ancestors only from here on
      const missing = new Set<string>();
      for (let id: string | null | undefined = row.id; id && !chosen.has(id) && !missing.has(id); id = parentOf.get(id)) missing.add(id);
      if (chosen.size + missing.size > limit) break;
      for (const id of missing) chosen.add(id);
    }
    if (chosen.size === 0) return { steps: [], stepCount, stepsTruncated: stepCount > 0 };

    const rows: StepRow[] = await this.dataSource.query(
      `SELECT ${stepPreviewColumns('$3')} FROM steps
       WHERE id = ANY($1::uuid[]) AND project_id = $2 ORDER BY position, started_at, id`,
      [[...chosen], projectId, this.config.previewChars],
    );
    const nodes = new Map<string, StepNodeDto>();
    for (const row of rows) nodes.set(row.id, { ...toStepListItem(row), children: [] });
    const roots: StepNodeDto[] = [];
    for (const node of nodes.values()) {
      const parent = node.parentStepId ? nodes.get(node.parentStepId) : undefined;
      (parent ? parent.children : roots).push(node);
    }
    return { steps: roots, stepCount, stepsTruncated: nodes.size < stepCount };
  }

  /** Every step of the run, flat, keyset-paged on (started_at, id) so pages never skip or repeat a step. */
  async listRunSteps(projectId: string, runId: string, q: ListRunStepsQueryDto): Promise<StepPageDto> {
    const limit = q.limit ?? 500;
    const params: unknown[] = [runId, projectId, limit + 1, this.config.previewChars];
    let after = '';
    if (q.cursor !== undefined) {
      const [startedAt, id] = decodeCursor(q.cursor, ['string', 'string']) as [string, string];
      const at = new Date(startedAt);
      if (Number.isNaN(at.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) throw new AppError(400, 'INVALID_CURSOR', 'cursor is not a cursor this API returned');
      params.push(at, id);
      after = 'AND (s.started_at, s.id) > ($5, $6::uuid)';
    }
    // One round trip: no row means no such run in the project; a row without a step, no steps (left).
    const rows: (StepRow | { id: null })[] = await this.dataSource.query(
      `SELECT s.* FROM runs r
       LEFT JOIN LATERAL (
         SELECT ${stepPreviewColumns('$4', 's.')} FROM steps s
         WHERE s.run_id = r.id AND s.project_id = $2 ${after}
         ORDER BY s.started_at, s.id LIMIT $3
       ) s ON true
       WHERE r.id = $1 AND r.project_id = $2
       ORDER BY s.started_at, s.id`,
      params,
    );
    if (rows.length === 0) throw notFound('Run', runId);
    const steps = rows.filter((r): r is StepRow => r.id !== null);
    const page = steps.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toStepListItem),
      nextCursor: steps.length > limit && last ? encodeCursor([last.started_at.toISOString(), last.id]) : null,
    };
  }
}
