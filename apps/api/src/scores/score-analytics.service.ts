import { Injectable } from '@nestjs/common';
import { AppError, badRequest } from '../common/app-error.js';
import { sql } from '../database/sql.js';
import type {
  LabelCountDto,
  ScorePointDto,
  ScoreRejectionsDto,
  ScoreRejectionsQueryDto,
  ScoreSeriesDto,
  ScoreSummaryDto,
  ScoreSummaryQueryDto,
} from './score-analytics.dto.js';
import { type ScoreLabelRow, ScoreAnalyticsRepository, type ScoreScope } from './score-analytics.repository.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const MAX_RANGE_DAYS = 366;
/** Names a summary or an analytics answer shows at most. */
const MAX_NAMES = 50;

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
    if ((q.good === undefined) === (q.min === undefined)) {
      throw badRequest('VALIDATION_FAILED', 'Say what a good score is: `good` (true, false or a label) or `min` (a number), one of them', [
        { field: q.good === undefined ? 'good' : 'min', message: 'give exactly one of good and min' },
      ]);
    }
    const range = scoreRange(q);
    const good =
      q.good !== undefined ? sql`(sc.value_label = ${q.good} OR sc.value_bool::text = ${q.good})` : sql`sc.value_number >= ${q.min}::double precision`;
    const rows = await this.repository.rejections({ projectId, ...range, pipeline: q.pipeline, name: q.name }, good);
    const first = rows[0];
    return {
      pipeline: q.pipeline,
      name: q.name,
      good: q.good ?? null,
      min: q.min ?? null,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      scoredItems: first?.scored ?? 0,
      goodItems: first?.good ?? 0,
      steps: rows
        .filter((r) => r.step_name !== null)
        .map((r) => ({
          stepName: r.step_name!,
          rejected: r.rejected!,
          rejectedGood: r.rejected_good!,
          share: r.rejected! > 0 ? r.rejected_good! / r.rejected! : 0,
          exampleKeys: r.example_keys ?? [],
          examples: r.examples ?? [],
        })),
    };
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
