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
  async findBoundedStepTree(projectId: string, runId: string, limit: number): Promise<BoundedStepTree> {
    const skeleton = await this.repository.findTreeSkeleton(projectId, runId, limit);
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

    const rows = await this.repository.findStepPreviews(projectId, [...chosen], this.config.previewChars);
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
    const after = q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor);
    const rows = await this.repository.listRunStepsPage(projectId, runId, after, limit + 1, this.config.previewChars);
    if (rows.length === 0) throw notFound('Run', runId);
    const steps = rows.filter((r): r is StepRow => r.id !== null);
    return pageOf(steps, limit, toStepListItem, (r) => encodeTimeIdCursor(r.started_at, r.id));
  }
}
