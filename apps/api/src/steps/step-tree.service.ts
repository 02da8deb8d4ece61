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

/** Parent ids of `rows` not yet in `known`, once each. */
const parentsNotIn = (rows: StepRow[], known: Map<string, StepRow>): string[] => [
  ...new Set(rows.map((r) => r.parent_step_id).filter((id): id is string => id !== null && !known.has(id))),
];

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
    // The first `limit` steps in order (idx_steps_run_started: reads only those rows) with their
    // previews, and the run's step count (an index-only scan by run alone: a run's steps are in
    // its project, and the caller has already found the run in theirs). No recursive CTE: its
    // row estimates (thousands of ancestors per level) made the planner pick hash joins over the
    // whole steps table and JIT-compile the statement, ~1 s for a 50,000-step run.
    const first: (StepRow & { total: number })[] = await this.dataSource.query(
      `SELECT (SELECT count(*)::int FROM steps WHERE run_id = $1) AS total, ${stepPreviewColumns('$4')}
       FROM steps WHERE run_id = $1 AND project_id = $2 ORDER BY started_at, id LIMIT $3`,
      [runId, projectId, limit, this.config.previewChars],
    );
    const stepCount = first[0]?.total ?? 0;
    const byId = new Map<string, StepRow>(first.map((r) => [r.id, r]));
    // Ancestors that started after a step among the first (clock skew): rare, one lookup by
    // primary key per missing level.
    for (let missing = parentsNotIn(first, byId); missing.length > 0; ) {
      const found: StepRow[] = await this.dataSource.query(
        `SELECT ${stepPreviewColumns('$3')} FROM steps WHERE id = ANY($1::uuid[]) AND project_id = $2`,
        [missing, projectId, this.config.previewChars],
      );
      for (const r of found) byId.set(r.id, r);
      missing = parentsNotIn(found, byId);
    }
    const chosen = new Set<string>();
    for (const row of first) {
      const needed = new Set<string>();
      for (let id: string | null | undefined = row.id; id && !chosen.has(id) && !needed.has(id); id = byId.get(id)?.parent_step_id) needed.add(id);
      if (chosen.size + needed.size > limit) break;
      for (const id of needed) chosen.add(id);
    }
    // Siblings in order: by position, then start, then id.
    const rows = [...chosen].map((id) => byId.get(id)!).sort(
      (a, b) => a.position - b.position || a.started_at.getTime() - b.started_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
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
