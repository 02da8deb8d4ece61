import { Injectable } from '@nestjs/common';
import { decodeTimeIdCursor, encodeTimeIdCursor, type TimeIdCursor } from '../common/cursor.js';
import { iso } from '../common/dto-helpers.js';
import type {
  ExportCandidatesLineDto,
  ExportEndLineDto,
  ExportLine,
  ExportQueryDto,
  ExportRunEndLineDto,
  ExportRunLineDto,
  ExportStepLineDto,
} from './export.dto.js';
import { type ExportFilter, ExportRepository, type ExportRunRow, type ExportStepRow } from './export.repository.js';
import type { LlmFieldsInputDto } from '../steps/llm-fields.dto.js';
import { llmFieldsOf, type StepRow } from '../steps/steps.service.js';

/** A step's LLM fields as an export line carries them (and createStep takes them back): only those set. */
function llmInputOf(r: ExportStepRow): LlmFieldsInputDto {
  const f = llmFieldsOf(r as unknown as StepRow);
  const out: LlmFieldsInputDto = {};
  if (f.model !== null) out.model = f.model;
  if (f.provider !== null) out.provider = f.provider;
  if (f.modelParameters !== null) out.modelParameters = f.modelParameters;
  if (f.usage !== null) out.usage = Object.fromEntries(Object.entries(f.usage).filter(([, v]) => v !== null));
  if (f.costUsd !== null) out.costUsd = f.costUsd;
  if (f.timeToFirstTokenMs !== null) out.timeToFirstTokenMs = f.timeToFirstTokenMs;
  return out;
}

/** Rows read per statement: runs, a run's steps, and candidates (also the most on one line). */
export const EXPORT_PAGE = { runs: 100, steps: 500, candidates: 1000 } as const;

/** An export request, checked: what to read and where to start. */
export interface ExportPlan {
  filter: ExportFilter;
  after?: TimeIdCursor;
  limit?: number;
}

const toRunLine = (r: ExportRunRow): ExportRunLineDto => ({
  type: 'run',
  run: {
    id: r.id,
    pipeline: r.pipeline,
    pipelineVersion: r.pipeline_version,
    status: r.status as ExportRunLineDto['run']['status'],
    input: r.input,
    output: r.output,
    error: r.error as ExportRunLineDto['run']['error'],
    metadata: r.metadata,
    tags: r.tags,
    startedAt: r.started_at.toISOString(),
    endedAt: iso(r.ended_at),
  },
});

const toStepLine = (runId: string, r: ExportStepRow): ExportStepLineDto => ({
  type: 'step',
  step: {
    id: r.id,
    runId,
    parentStepId: r.parent_step_id,
    name: r.name,
    type: r.type as ExportStepLineDto['step']['type'],
    position: r.position,
    status: r.status as ExportStepLineDto['step']['status'],
    input: r.input,
    output: r.output,
    error: r.error as ExportStepLineDto['step']['error'],
    reasoning: r.reasoning,
    metadata: r.metadata,
    startedAt: r.started_at.toISOString(),
    endedAt: iso(r.ended_at),
    reportedIn: r.reported_in,
    reportedOut: r.reported_out,
    ...llmInputOf(r),
  },
});

/**
 * Reads a project's runs, with their steps and candidates, as the lines of an NDJSON export
 * (export.dto.ts). Memory stays bounded whatever the project's size: runs, steps and candidates
 * are read in keyset pages, and lines are produced one at a time for the caller to write
 * (waiting for the client between them). Only a run's step ids are held, so a parent can be
 * written before its children when their start times do not say so.
 */
@Injectable()
export class ExportService {
  constructor(private readonly repository: ExportRepository) {}

  /** Checks a request before anything is written: a bad cursor is a 400 INVALID_CURSOR. */
  plan(q: Pick<ExportQueryDto, 'pipeline' | 'from' | 'to' | 'cursor' | 'limit'>): ExportPlan {
    return {
      filter: { pipeline: q.pipeline, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined },
      after: q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor),
      limit: q.limit,
    };
  }

  async *lines(projectId: string, plan: ExportPlan): AsyncGenerator<ExportLine> {
    const totals = { runs: 0, steps: 0, candidates: 0 };
    let after = plan.after;
    let more = true;
    while (more) {
      const want = plan.limit === undefined ? EXPORT_PAGE.runs : Math.min(EXPORT_PAGE.runs, plan.limit - totals.runs);
      const runs = want > 0 ? await this.repository.listRuns(projectId, plan.filter, after, want) : [];
      more = runs.length === want && want > 0;
      for (const run of runs) {
        yield toRunLine(run);
        const counts = { steps: 0, candidates: 0 };
        for await (const line of this.runContents(projectId, run)) {
          if (line.type === 'step') counts.steps++;
          else counts.candidates += line.candidates.length;
          yield line;
        }
        after = { at: run.started_at, id: run.id };
        totals.runs++;
        totals.steps += counts.steps;
        totals.candidates += counts.candidates;
        yield { type: 'run-end', runId: run.id, ...counts, cursor: encodeTimeIdCursor(run.started_at, run.id) } satisfies ExportRunEndLineDto;
      }
    }
    const left = plan.limit !== undefined && totals.runs === plan.limit && after ? await this.repository.listRuns(projectId, plan.filter, after, 1) : [];
    yield { type: 'end', ...totals, nextCursor: left.length && after ? encodeTimeIdCursor(after.at, after.id) : null } satisfies ExportEndLineDto;
  }

  /**
   * A run's steps in (started_at, id) order, a parent always before its children (a child read
   * first waits for its parent), each followed by its candidates.
   */
  private async *runContents(projectId: string, run: ExportRunRow): AsyncGenerator<ExportStepLineDto | ExportCandidatesLineDto> {
    const written = new Set<string>();
    const waiting = new Map<string, ExportStepRow[]>();
    let after: TimeIdCursor | undefined;
    for (;;) {
      const page = await this.repository.listSteps(projectId, run.id, run.started_at, after, EXPORT_PAGE.steps);
      for (const step of page) {
        if (step.parent_step_id !== null && !written.has(step.parent_step_id)) {
          waiting.set(step.parent_step_id, [...(waiting.get(step.parent_step_id) ?? []), step]);
          continue;
        }
        const ready = [step];
        while (ready.length) {
          const next = ready.shift()!;
          yield* this.stepWithCandidates(projectId, run, next);
          written.add(next.id);
          ready.push(...(waiting.get(next.id) ?? []));
          waiting.delete(next.id);
        }
      }
      if (page.length < EXPORT_PAGE.steps) break;
      const last = page[page.length - 1];
      after = { at: last.started_at, id: last.id };
    }
    // A parent the run does not have (cannot be stored, but an export never drops a step).
    for (const orphans of waiting.values()) for (const step of orphans) yield* this.stepWithCandidates(projectId, run, step);
  }

  private async *stepWithCandidates(projectId: string, run: ExportRunRow, step: ExportStepRow): AsyncGenerator<ExportStepLineDto | ExportCandidatesLineDto> {
    const runId = run.id;
    yield toStepLine(runId, step);
    let afterKey: string | undefined;
    for (;;) {
      const rows = await this.repository.listCandidates(projectId, runId, run.started_at, step.id, afterKey, EXPORT_PAGE.candidates);
      if (rows.length === 0) break;
      yield {
        type: 'candidates',
        runId,
        stepId: step.id,
        candidates: rows.map((c) => ({
          key: c.key,
          decision: c.decision as 'accepted',
          score: c.score ?? undefined,
          rank: c.rank ?? undefined,
          reason: c.reason ?? undefined,
          evaluations: (c.evaluations ?? undefined) as ExportCandidatesLineDto['candidates'][number]['evaluations'],
          data: c.data,
          createdAt: c.created_at.toISOString(),
        })),
      };
      if (rows.length < EXPORT_PAGE.candidates) break;
      afterKey = rows[rows.length - 1].key;
    }
  }
}
