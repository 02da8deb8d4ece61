import { Inject, Injectable } from '@nestjs/common';
import { notFound } from '../common/app-error.js';
import { decodeTimeIdCursor, encodeTimeIdCursor, pageOf } from '../common/cursor.js';
import { truncatedFields } from '../common/preview.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { type ListRunStepsQueryDto, STEP_PREVIEW_FIELDS, type StepListItemDto, type StepNodeDto, type StepPageDto } from './steps.dto.js';
import { type StepRow, StepsRepository } from './steps.repository.js';
import { toStepDto } from './steps.service.js';

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
    private readonly repository: StepsRepository,
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
  async findBoundedStepTree(projectId: string, run: { id: string; startedAt: string }, limit: number): Promise<BoundedStepTree> {
    // The first `limit` steps in order with their previews and the run's step count (see
    // StepsRepository.findFirstStepsOfRun for why this is not one recursive statement).
    const first = await this.repository.findFirstStepsOfRun(projectId, run.id, new Date(run.startedAt), limit, this.config.previewChars);
    const stepCount = first[0]?.total ?? 0;
    const byId = new Map<string, StepRow>(first.map((r) => [r.id, r]));
    // Ancestors that started after a step among the first (clock skew): rare, one lookup by
    // primary key per missing level.
    for (let missing = parentsNotIn(first, byId); missing.length > 0;) {
      const found = await this.repository.findStepPreviews(projectId, missing, this.config.previewChars);
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
    const rows = [...chosen]
      .map((id) => byId.get(id)!)
      .sort((a, b) => a.position - b.position || a.started_at.getTime() - b.started_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const nodes = new Map<string, StepNodeDto>();
    for (const row of rows) nodes.set(row.id, { ...toStepListItem(row), scores: [], children: [] });
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
    const after = q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor);
    const rows = await this.repository.listRunStepsPage(projectId, runId, after, limit + 1, this.config.previewChars);
    if (rows.length === 0) throw notFound('Run', runId);
    const steps = rows.filter((r): r is StepRow => r.id !== null);
    return pageOf(steps, limit, toStepListItem, (r) => encodeTimeIdCursor(r.started_at, r.id));
  }
}
