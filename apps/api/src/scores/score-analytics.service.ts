import { Injectable } from '@nestjs/common';
import { AppError, badRequest } from '../common/app-error.js';
import { type Sql, sql } from '../database/sql.js';
import type {
  LabelCountDto,
  ScorePointDto,
  ScoreRejectionsDto,
  ScoreRejectionsQueryDto,
  ScoreSeriesDto,
  ScoreSummaryDto,
  ScoreSummaryQueryDto,
} from './score-analytics.dto.js';
import { type RejectionScope, type ScoreLabelRow, ScoreAnalyticsRepository, type ScoreScope } from './score-analytics.repository.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const MAX_RANGE_DAYS = 366;
/** Names a summary or an analytics answer shows at most. */
const MAX_NAMES = 50;
/** How many of a step's good rejected items its example keys are drawn from (the newest; see rejectionExamples). */
const EXAMPLE_POOL = 50;
/** How many of a step's newest hours its examples are read from at most. */
const EXAMPLE_HOURS = 6;

/** A range of run starts: default the 7 days before now; 400 INVALID_RANGE when empty or over 366 days. */
export function scoreRange(q: { from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 7 * DAY);
  if (from >= to) throw new AppError(400, 'INVALID_RANGE', '`from` must be before `to`');
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY) throw new AppError(400, 'INVALID_RANGE', `The range may span at most ${MAX_RANGE_DAYS} days`);
  return { from, to };
}

const nameKey = (r: { name: string; data_type: string }) => `${r.data_type}\u0000${r.name}`;
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** Label rows grouped by name and kind, then by bucket start (`''` for overall). */
function labelsBy(rows: ScoreLabelRow[]): Map<string, Map<string, LabelCountDto[]>> {
  const out = new Map<string, Map<string, LabelCountDto[]>>();
  for (const r of rows) {
    const byStart = out.get(nameKey(r)) ?? new Map<string, LabelCountDto[]>();
    out.set(nameKey(r), byStart);
    const start = r.start === null ? '' : r.start.toISOString();
    byStart.set(start, [...(byStart.get(start) ?? []), { label: r.label, count: r.n }]);
  }
  return out;
}

/** Summaries and series of scores, and the cross-run rejection question. */
@Injectable()
export class ScoreAnalyticsService {
  constructor(private readonly repository: ScoreAnalyticsRepository) {}

  /** Per name: count, mean, min/max, the distribution and the same by day. */
  async summary(projectId: string, q: ScoreSummaryQueryDto): Promise<ScoreSummaryDto> {
    const scope: ScoreScope = { projectId, ...scoreRange(q), pipeline: q.pipeline, name: q.name, target: q.target };
    const [stats, days, labels, dayLabels, histograms] = await Promise.all([
      this.repository.stats(scope, MAX_NAMES),
      this.repository.buckets(scope, 'day'),
      this.repository.labels(scope, null),
      this.repository.labels(scope, 'day'),
      this.repository.histograms(scope),
    ]);
    const overall = labelsBy(labels);
    const perDay = labelsBy(dayLabels);
    return {
      from: scope.from.toISOString(),
      to: scope.to.toISOString(),
      items: stats.map((s) => {
        const k = nameKey(s);
        const numeric = s.data_type === 'numeric';
        const buckets = numeric ? histograms.filter((h) => h.name === s.name) : [];
        return {
          name: s.name,
          dataType: s.data_type,
          count: s.n,
          mean: s.data_type === 'categorical' ? null : num(s.mean),
          min: numeric ? num(s.lo) : null,
          max: numeric ? num(s.hi) : null,
          labels: overall.get(k)?.get('') ?? [],
          histogram: histogramOf(buckets),
          byDay: days
            .filter((d) => nameKey(d) === k)
            .map((d) => ({
              start: d.start.toISOString(),
              count: d.n,
              mean: s.data_type === 'categorical' ? null : num(d.mean),
              labels: perDay.get(k)?.get(d.start.toISOString()) ?? [],
            })),
        };
      }),
    };
  }

  /** Each score name's points over a pipeline's range, one per bucket (for pipeline analytics). */
  async series(projectId: string, pipeline: string, range: { from: Date; to: Date; bucket: 'hour' | 'day' }): Promise<ScoreSeriesDto[]> {
    const scope: ScoreScope = { projectId, pipeline, from: range.from, to: range.to };
    const [stats, buckets, labels] = await Promise.all([
      this.repository.stats(scope, MAX_NAMES),
      this.repository.buckets(scope, range.bucket),
      this.repository.labels(scope, range.bucket),
    ]);
    const byLabels = labelsBy(labels);
    const size = range.bucket === 'hour' ? HOUR : DAY;
    return stats.map((s) => {
      const k = nameKey(s);
      const rows = new Map(buckets.filter((b) => nameKey(b) === k).map((b) => [b.start.getTime(), b]));
      const points: ScorePointDto[] = [];
      for (let t = Math.floor(range.from.getTime() / size) * size; t < range.to.getTime(); t += size) {
        const row = rows.get(t);
        const start = new Date(t).toISOString();
        points.push({
          start,
          count: row?.n ?? 0,
          mean: row && s.data_type !== 'categorical' ? num(row.mean) : null,
          labels: byLabels.get(k)?.get(start) ?? [],
        });
      }
      return { name: s.name, dataType: s.data_type, points };
    });
  }

  /**
   * Which step rejects what users scored good: per step name, the candidates it rejected whose
   * item carries a good score in that run (see ScoreAnalyticsRepository.rejections).
   */
  async rejections(projectId: string, q: ScoreRejectionsQueryDto): Promise<ScoreRejectionsDto> {
    if (q.good !== undefined && q.min !== undefined) {
      throw badRequest('VALIDATION_FAILED', 'Say what a good score is with `good` (true, false or a label) or `min` (a number), not both', [
        { field: 'min', message: 'give good or min, not both' },
      ]);
    }
    // Neither: a good score is `true` (the thumbs-up of a boolean score).
    if (q.min === undefined) q = { ...q, good: q.good ?? 'true' };
    const range = scoreRange(q);
    const good =
      q.good !== undefined ? sql`(sc.value_label = ${q.good} OR sc.value_bool::text = ${q.good})` : sql`sc.value_number >= ${q.min}::double precision`;
    const scope = { projectId, pipeline: q.pipeline, name: q.name };
    const counts = await this.rejectionCounts(scope, range, good);
    const examples = await this.rejectionExamples(scope, range, good);
    const total = counts.get('') ?? { n: 0, n_good: 0 };
    return {
      pipeline: q.pipeline,
      name: q.name,
      good: q.good ?? null,
      min: q.min ?? null,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      scoredItems: total.n,
      goodItems: total.n_good,
      steps: [...counts]
        .filter(([step, c]) => step !== '' && c.n > 0)
        .sort(([a, x], [b, y]) => y.n_good - x.n_good || y.n - x.n || (a < b ? -1 : a > b ? 1 : 0))
        .map(([stepName, c]) => ({
          stepName,
          rejected: c.n,
          rejectedGood: c.n_good,
          share: c.n > 0 ? c.n_good / c.n : 0,
          exampleKeys: examples.get(stepName)?.example_keys ?? [],
          examples: examples.get(stepName)?.examples ?? [],
        })),
    };
  }

  /**
   * Per step name (`''`: the items scored), the items rejected and the good ones among them:
   * the whole hours of the range from the rollup, the partial hours at its edges from the scores.
   */
  private async rejectionCounts(scope: Omit<RejectionScope, 'from' | 'to'>, range: { from: Date; to: Date }, good: Sql) {
    const h0 = new Date(Math.ceil(range.from.getTime() / HOUR) * HOUR);
    const h1 = new Date(Math.floor(range.to.getTime() / HOUR) * HOUR);
    const counts = new Map<string, { n: number; n_good: number }>();
    const add = (step: string, n: number, nGood: number) => {
      const c = counts.get(step) ?? { n: 0, n_good: 0 };
      counts.set(step, { n: c.n + n, n_good: c.n_good + nGood });
    };
    const live = async (from: Date, to: Date) => {
      if (from >= to) return;
      const rows = await this.repository.rejections({ ...scope, from, to }, good);
      if (rows.length) add('', rows[0].scored, rows[0].good);
      for (const r of rows) if (r.step_name !== null) add(r.step_name, r.rejected!, r.rejected_good!);
    };
    if (h0 >= h1) {
      await live(range.from, range.to);
      return counts;
    }
    for (const r of await this.repository.rejectionCounts({ ...scope, from: h0, to: h1 }, good)) add(r.step_name, r.n, r.n_good);
    await live(range.from, h0);
    await live(h1, range.to);
    return counts;
  }

  /**
   * Each step's example keys and newest examples, read from the scores of a few hours of the
   * range, found from the rollup: per step, its newest hours with good items it rejected, until
   * they hold {@link EXAMPLE_POOL} of them or {@link EXAMPLE_HOURS} hours are taken (each such
   * hour holds one at least, so its five newest examples are always among them), and the
   * partial hour at the range's end (not in the rollup). The example keys are the most frequent
   * among those items.
   */
  private async rejectionExamples(scope: Omit<RejectionScope, 'from' | 'to'>, range: { from: Date; to: Date }, good: Sql) {
    const whole = new Date(Math.floor(range.from.getTime() / HOUR) * HOUR);
    const hours = await this.repository.rejectedGoodByHour({ ...scope, from: whole, to: range.to }, good);
    const taken = new Map<string, { n: number; hours: number }>();
    const starts = new Set<number>([Math.floor(range.to.getTime() / HOUR) * HOUR]);
    for (const h of hours) {
      const t = taken.get(h.step_name) ?? { n: 0, hours: 0 };
      if (t.n >= EXAMPLE_POOL || t.hours >= EXAMPLE_HOURS) continue;
      taken.set(h.step_name, { n: t.n + h.n_good, hours: t.hours + 1 });
      starts.add(h.hour.getTime());
    }
    const within = [...starts]
      .sort((a, b) => a - b)
      .map((t): [Date, Date] => [new Date(Math.max(t, range.from.getTime())), new Date(Math.min(t + HOUR, range.to.getTime()))])
      .filter(([a, b]) => a < b);
    const rows = within.length ? await this.repository.rejections({ ...scope, from: range.from, to: range.to, within }, good) : [];
    return new Map(rows.filter((r) => r.step_name !== null).map((r) => [r.step_name!, r]));
  }
}

/** Ten equal-width buckets from the rows' bounds (one when all values are equal). */
function histogramOf(rows: { lo: number; hi: number; b: number; n: number }[]): { from: number; to: number; count: number }[] {
  if (rows.length === 0) return [];
  const lo = Number(rows[0].lo);
  const hi = Number(rows[0].hi);
  if (lo === hi) return [{ from: lo, to: hi, count: rows.reduce((a, r) => a + r.n, 0) }];
  const width = (hi - lo) / 10;
  const counts = new Map(rows.map((r) => [r.b, r.n]));
  return Array.from({ length: 10 }, (_, b) => ({ from: lo + b * width, to: b === 9 ? hi : lo + (b + 1) * width, count: counts.get(b) ?? 0 }));
}
