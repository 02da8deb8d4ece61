import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CandidatesService } from '../candidates/candidates.service.js';
import { AppError } from '../common/app-error.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { iso } from '../common/dto-helpers.js';
import { RunsService } from '../runs/runs.service.js';
import { rollupUnion, runSpans, stepSpans } from './rollup-range.js';
import { type FullStepNode, StepsService } from '../steps/steps.service.js';
import { CANDIDATE_PREVIEW_FIELDS } from '../candidates/candidates.dto.js';
import { previewColumn, truncatedFields } from '../common/preview.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { STEP_PREVIEW_FIELDS } from '../steps/steps.dto.js';
import type {
  CandidateEvaluationDto,
  CandidateEvaluationPageDto,
  PipelineAnalyticsDto,
  PipelineAnalyticsQueryDto,
  RunComparisonDto,
  SearchCandidatesQueryDto,
  SearchStepsQueryDto,
  StepComparisonDto,
  StepSearchPageDto,
  StepSideDto,
} from './analytics.dto.js';

const DAY = 86_400_000;
const MAX_RANGE_DAYS = 366;
const MAX_FLIPS = 1000;

/** Collects WHERE clauses with numbered parameters. */
class Where {
  readonly clauses: string[] = [];
  constructor(readonly params: unknown[]) {}
  add(sql: (p: string) => string, value: unknown): void {
    if (value === undefined) return;
    this.params.push(value);
    this.clauses.push(sql(`$${this.params.length}`));
  }
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  toString(): string {
    return this.clauses.join(' AND ');
  }
}

function timeCursor(cursor: string | undefined): [Date, string] | undefined {
  if (cursor === undefined) return undefined;
  const [at, id] = decodeCursor(cursor, ['string', 'string']) as [string, string];
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new AppError(400, 'INVALID_CURSOR', 'cursor is not a cursor this API returned');
  return [date, id];
}

/** Cross-run questions: step search, candidate lineage, run comparison and pipeline analytics. */
@Injectable()
export class AnalyticsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly runs: RunsService,
    private readonly steps: StepsService,
    private readonly candidates: CandidatesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** "Where did the price filter drop more than 90%?" — steps across runs, newest first. */
  async searchSteps(projectId: string, q: SearchStepsQueryDto): Promise<StepSearchPageDto> {
    if (q.minEliminationRatio !== undefined && q.maxEliminationRatio !== undefined && q.minEliminationRatio > q.maxEliminationRatio) {
      throw new AppError(400, 'VALIDATION_FAILED', 'minEliminationRatio must not exceed maxEliminationRatio');
    }
    const limit = q.limit ?? 50;
    const where = new Where([projectId]);
    where.clauses.push('project_id = $1');
    where.add((p) => `name = ${p}`, q.name);
    where.add((p) => `type = ${p}`, q.type);
    where.add((p) => `status = ${p}`, q.status);
    where.add((p) => `pipeline = ${p}`, q.pipeline);
    where.add((p) => `elimination_ratio >= ${p}`, q.minEliminationRatio);
    where.add((p) => `elimination_ratio <= ${p}`, q.maxEliminationRatio);
    where.add((p) => `duration_ms >= ${p}`, q.minDurationMs);
    where.add((p) => `started_at >= ${p}`, q.from && new Date(q.from));
    where.add((p) => `started_at < ${p}`, q.to && new Date(q.to));
    const after = timeCursor(q.cursor);
    if (after) where.clauses.push(`(started_at, id) < (${where.param(after[0])}, ${where.param(after[1])}::uuid)`);
    const preview = (() => {
      const p = where.param(this.config.previewChars);
      return STEP_PREVIEW_FIELDS.map((f) => previewColumn(f, f, p)).join(',\n              ');
    })();
    const rows: {
      id: string;
      run_id: string;
      pipeline: string;
      parent_step_id: string | null;
      name: string;
      type: string;
      status: string;
      started_at: Date;
      ended_at: Date | null;
      duration_ms: number | null;
      candidates_in: number;
      candidates_out: number;
      elimination_ratio: number | null;
      input: unknown;
      output: unknown;
      metadata: Record<string, unknown> | string;
    }[] = await this.dataSource.query(
      `SELECT id, run_id, pipeline, parent_step_id, name, type, status, started_at, ended_at, duration_ms,
              candidates_in, candidates_out, elimination_ratio,
              ${preview}
       FROM steps WHERE ${where} ORDER BY started_at DESC, id DESC LIMIT ${where.param(limit + 1)}`,
      where.params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        id: r.id,
        runId: r.run_id,
        pipeline: r.pipeline,
        parentStepId: r.parent_step_id,
        name: r.name,
        type: r.type,
        status: r.status,
        startedAt: r.started_at.toISOString(),
        endedAt: iso(r.ended_at),
        durationMs: r.duration_ms,
        candidatesIn: r.candidates_in,
        candidatesOut: r.candidates_out,
        eliminationRatio: r.elimination_ratio,
        input: r.input,
        output: r.output,
        metadata: r.metadata,
        truncated: truncatedFields(r, STEP_PREVIEW_FIELDS),
      })),
      nextCursor: rows.length > limit && last ? encodeCursor([last.started_at.toISOString(), last.id]) : null,
    };
  }

  /** "Why was B0XYZ never selected?" — every evaluation of one item, newest first. */
  async searchCandidates(projectId: string, q: SearchCandidatesQueryDto): Promise<CandidateEvaluationPageDto> {
    const limit = q.limit ?? 100;
    const where = new Where([projectId, q.key]);
    where.clauses.push('c.project_id = $1', 'c.key = $2');
    where.add((p) => `s.pipeline = ${p}`, q.pipeline);
    where.add((p) => `c.decision = ${p}`, q.decision);
    where.add((p) => `c.created_at >= ${p}`, q.from && new Date(q.from));
    where.add((p) => `c.created_at < ${p}`, q.to && new Date(q.to));
    if (q.cursor !== undefined) {
      const [before] = decodeCursor(q.cursor, ['string']) as [string];
      if (!/^\d{1,19}$/.test(before)) throw new AppError(400, 'INVALID_CURSOR', 'cursor is not a cursor this API returned');
      where.clauses.push(`c.id < ${where.param(before)}::bigint`);
    }
    const previewChars = where.param(this.config.previewChars);
    const previews = CANDIDATE_PREVIEW_FIELDS.map((f) => previewColumn(`c.${f}`, f, previewChars)).join(', ');
    const rows: {
      id: string;
      run_id: string;
      step_id: string;
      step_name: string;
      pipeline: string;
      key: string;
      decision: string;
      reason: string | null;
      score: number | null;
      rank: number | null;
      evaluations: CandidateEvaluationDto['evaluations'];
      data: unknown;
      created_at: Date;
    }[] = await this.dataSource.query(
      `SELECT c.id, c.run_id, c.step_id, s.name AS step_name, s.pipeline, c.key, c.decision, c.reason, c.score, c.rank,
              c.created_at, ${previews}
       FROM candidates c JOIN steps s ON s.id = c.step_id
       WHERE ${where} ORDER BY c.id DESC LIMIT ${where.param(limit + 1)}`,
      where.params,
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        runId: r.run_id,
        stepId: r.step_id,
        stepName: r.step_name,
        pipeline: r.pipeline,
        key: r.key,
        decision: r.decision,
        reason: r.reason,
        score: r.score,
        rank: r.rank,
        evaluations: r.evaluations,
        data: r.data,
        createdAt: r.created_at.toISOString(),
        truncated: truncatedFields(r, CANDIDATE_PREVIEW_FIELDS),
      })),
      nextCursor: rows.length > limit ? encodeCursor([page[page.length - 1].id]) : null,
    };
  }

  /** Two runs' step trees aligned by path, with what differs and which candidates flipped. */
  async compareRuns(projectId: string, leftId: string, rightId: string): Promise<RunComparisonDto> {
    const [left, right, leftTree, rightTree] = await Promise.all([
      this.runs.findRun(projectId, leftId),
      this.runs.findRun(projectId, rightId),
      this.steps.findStepTree(projectId, leftId),
      this.steps.findStepTree(projectId, rightId),
    ]);
    const leftSteps = flattenByPath(leftTree);
    const rightSteps = flattenByPath(rightTree);
    const paths = [...leftSteps.keys(), ...[...rightSteps.keys()].filter((k) => !leftSteps.has(k))];

    const withCandidates = paths
      .map((p) => [leftSteps.get(p), rightSteps.get(p)] as const)
      .filter(([l, r]) => l && r && l.candidatesStored > 0 && r.candidatesStored > 0);
    const kept = await this.candidates.keptAndRejectedKeys(
      projectId,
      withCandidates.flatMap(([l, r]) => [l!.id, r!.id]),
    );

    const steps: StepComparisonDto[] = paths.map((path) => {
      const l = leftSteps.get(path);
      const r = rightSteps.get(path);
      const differences: StepComparisonDto['differences'] = {};
      if (l && r) {
        for (const field of ['status', 'durationMs', 'candidatesIn', 'candidatesOut'] as const) {
          if (l[field] !== r[field]) differences[field] = { left: l[field], right: r[field] };
        }
      }
      let candidates: StepComparisonDto['candidates'] = null;
      if (l && r && kept.has(l.id) && kept.has(r.id)) {
        const a = kept.get(l.id)!;
        const b = kept.get(r.id)!;
        const keptLeft = [...a.kept].filter((k) => b.rejected.has(k)).sort();
        const keptRight = [...b.kept].filter((k) => a.rejected.has(k)).sort();
        candidates = {
          keptLeftRejectedRight: keptLeft.slice(0, MAX_FLIPS),
          keptRightRejectedLeft: keptRight.slice(0, MAX_FLIPS),
          keptLeftRejectedRightCount: keptLeft.length,
          keptRightRejectedLeftCount: keptRight.length,
        };
      }
      return { path: JSON.parse(path) as string[], left: l ? side(l) : null, right: r ? side(r) : null, differences, candidates };
    });
    return { left, right, steps };
  }

  async pipelineAnalytics(projectId: string, pipeline: string, q: PipelineAnalyticsQueryDto): Promise<PipelineAnalyticsDto> {
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 7 * DAY);
    if (from >= to) throw new AppError(400, 'INVALID_RANGE', '`from` must be before `to`');
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY) {
      throw new AppError(400, 'INVALID_RANGE', `The range may span at most ${MAX_RANGE_DAYS} days`);
    }
    const bucket: 'hour' | 'day' = to.getTime() - from.getTime() <= 2 * DAY ? 'hour' : 'day';

    // Everything comes from rollups kept by triggers (AddHourlyRollups, AddDailyRollups): whole
    // UTC days from the daily tables, the hours around them from the hourly ones, so the cost
    // follows the days in the range, not the runs, steps or candidates in it. Steps count by the
    // hour they started (the range widened to whole hours); runs are exact, the partial hours
    // at the edges read from the runs table. An hourly series reads hourly rollups only.
    const query = <T>(sql: (params: unknown[]) => string) => {
      const params: unknown[] = [projectId, pipeline];
      const text = sql(params);
      return this.dataSource.query(text, params) as Promise<T[]>;
    };
    const steps = stepSpans(from, to);
    const runs = runSpans(from, to, bucket === 'day');
    const rawRuns = (params: unknown[], [a, b]: [Date, Date]) => {
      params.push(a, b);
      return `SELECT started_at AS t, status, 1 AS count FROM runs
              WHERE project_id = $1 AND pipeline = $2 AND started_at >= $${params.length - 1} AND started_at < $${params.length}`;
    };

    const [runRows, stepRows, reasonRows, durationRows] = await Promise.all([
      query<{ start: Date; status: string; n: number }>(
        (params) => `SELECT date_trunc('${bucket}', t, 'UTC') AS start, status, sum(count)::int AS n FROM (
           ${rollupUnion('run_stats', 'status, count', runs.spans, params)}
           UNION ALL ${rawRuns(params, runs.rawHead)}
           UNION ALL ${rawRuns(params, runs.rawTail)}
         ) r GROUP BY 1, 2 HAVING sum(count) > 0`,
      ),
      query<{ name: string; count: number; failed: number; finished: number; ratio_sum: number; ratio_n: number }>(
        (params) => `SELECT name, sum(steps)::int AS count, sum(failed)::int AS failed, sum(finished)::int AS finished,
                sum(ratio_sum) AS ratio_sum, sum(ratio_n)::int AS ratio_n
         FROM (${rollupUnion('step_stats', 'name, steps, failed, finished, ratio_sum, ratio_n', steps, params)}) r
         GROUP BY name HAVING sum(steps) > 0 ORDER BY sum(steps) DESC, name LIMIT 200`,
      ),
      query<{ step_name: string; reason: string; n: number }>(
        (params) => `SELECT step_name, reason, n FROM (
           SELECT name AS step_name, reason, sum(count)::int AS n,
                  row_number() OVER (PARTITION BY name ORDER BY sum(count) DESC, reason) AS rk
           FROM (${rollupUnion('reason_counts', 'name, reason, count', steps, params)}) r
           GROUP BY name, reason HAVING sum(count) > 0
         ) ranked WHERE rk <= 10 ORDER BY step_name, n DESC, reason`,
      ),
      query<{ name: string; bucket: number; n: number }>(
        (params) => `SELECT name, bucket, sum(count)::int AS n
         FROM (${rollupUnion('step_durations', 'name, bucket, count', steps, params)}) r
         GROUP BY name, bucket HAVING sum(count) > 0 ORDER BY name, bucket`,
      ),
    ]);

    const byStatus = { running: 0, success: 0, error: 0, cancelled: 0, timed_out: 0 };
    const series = new Map<number, { runs: number; errors: number }>();
    for (const r of runRows) {
      byStatus[r.status as keyof typeof byStatus] += r.n;
      const point = series.get(r.start.getTime()) ?? { runs: 0, errors: 0 };
      point.runs += r.n;
      if (r.status === 'error' || r.status === 'timed_out') point.errors += r.n;
      series.set(r.start.getTime(), point);
    }
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const finished = total - byStatus.running;
    const failedRuns = byStatus.error + byStatus.timed_out;

    const reasons = new Map<string, { reason: string; count: number }[]>();
    for (const r of reasonRows) {
      const list = reasons.get(r.step_name) ?? [];
      list.push({ reason: r.reason, count: r.n });
      reasons.set(r.step_name, list);
    }

    const durations = new Map<string, { bucket: number; n: number }[]>();
    for (const r of durationRows) {
      const list = durations.get(r.name) ?? [];
      list.push({ bucket: r.bucket, n: r.n });
      durations.set(r.name, list);
    }

    const points: PipelineAnalyticsDto['timeSeries']['points'] = [];
    const size = bucket === 'hour' ? 3_600_000 : DAY;
    for (let t = Math.floor(from.getTime() / size) * size; t < to.getTime(); t += size) {
      const row = series.get(t);
      points.push({ start: new Date(t).toISOString(), runs: row?.runs ?? 0, errors: row?.errors ?? 0 });
    }

    return {
      pipeline,
      from: from.toISOString(),
      to: to.toISOString(),
      runs: { total, byStatus, errorRate: finished > 0 ? failedRuns / finished : null },
      steps: stepRows.map((s) => {
        const histogram = durations.get(s.name) ?? [];
        return {
          name: s.name,
          count: s.count,
          errorRate: s.finished > 0 ? s.failed / s.finished : null,
          p50DurationMs: percentileFromBuckets(histogram, 0.5),
          p95DurationMs: percentileFromBuckets(histogram, 0.95),
          meanEliminationRatio: s.ratio_n > 0 ? Number(s.ratio_sum) / s.ratio_n : null,
        };
      }),
      topRejectionReasons: [...reasons].map(([stepName, list]) => ({ stepName, reasons: list })),
      timeSeries: { bucket, points },
    };
  }
}

/** Bucket b >= 1 of the duration histograms holds [1.1^(b-1), 1.1^b) ms; bucket 0 holds [0, 1). */
const bucketBounds = (b: number): [number, number] => (b === 0 ? [0, 1] : [1.1 ** (b - 1), 1.1 ** b]);

/**
 * The q-quantile of a histogram (buckets ascending), interpolating linearly inside the bucket
 * that holds it: within the bucket's 10% width of the exact value.
 */
export function percentileFromBuckets(buckets: { bucket: number; n: number }[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b.n, 0);
  if (total === 0) return null;
  const rank = q * (total - 1);
  let seen = 0;
  for (const { bucket, n } of buckets) {
    if (rank < seen + n) {
      const [lo, hi] = bucketBounds(bucket);
      return lo + (hi - lo) * ((rank - seen + 0.5) / n);
    }
    seen += n;
  }
  return bucketBounds(buckets[buckets.length - 1].bucket)[1];
}

/** Steps keyed by their path of names (JSON), siblings with the same name numbered `#2`, `#3`… */
function flattenByPath(roots: FullStepNode[]): Map<string, FullStepNode> {
  const out = new Map<string, FullStepNode>();
  const walk = (nodes: FullStepNode[], prefix: string[]) => {
    const seen = new Map<string, number>();
    for (const node of nodes) {
      const n = (seen.get(node.name) ?? 0) + 1;
      seen.set(node.name, n);
      const path = [...prefix, n === 1 ? node.name : `${node.name}#${n}`];
      out.set(JSON.stringify(path), node);
      walk(node.children, path);
    }
  };
  walk(roots, []);
  return out;
}

const side = (s: FullStepNode): StepSideDto => ({
  id: s.id,
  status: s.status,
  durationMs: s.durationMs,
  candidatesIn: s.candidatesIn,
  candidatesOut: s.candidatesOut,
  eliminationRatio: s.eliminationRatio,
});
