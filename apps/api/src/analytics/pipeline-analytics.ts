import { AppError } from '../common/app-error.js';
import { FAILED_STATUSES, type RunStatus } from '../domain/vocabulary.js';
import type { PipelineAnalyticsDto, PipelineAnalyticsQueryDto } from './pipeline-analytics.dto.js';

/** Pure parts of pipeline analytics: the range a query asks for, and the answer built from rollup rows. */

const HOUR = 3_600_000;
const DAY = 86_400_000;
const MAX_RANGE_DAYS = 366;

export interface AnalyticsRange {
  from: Date;
  to: Date;
  /** Hours for ranges up to 2 days, days beyond. */
  bucket: 'hour' | 'day';
}

/** The range of a query (default: the 7 days before now); 400 INVALID_RANGE when empty or longer than 366 days. */
export function analyticsRange(q: PipelineAnalyticsQueryDto, now = new Date()): AnalyticsRange {
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 7 * DAY);
  if (from >= to) throw new AppError(400, 'INVALID_RANGE', '`from` must be before `to`');
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY) {
    throw new AppError(400, 'INVALID_RANGE', `The range may span at most ${MAX_RANGE_DAYS} days`);
  }
  return { from, to, bucket: to.getTime() - from.getTime() <= 2 * DAY ? 'hour' : 'day' };
}

/** The rows the rollup queries answer. */
export interface PipelineRollupRows {
  runs: { start: Date; status: string; n: number }[];
  steps: { name: string; count: number; failed: number; finished: number; ratio_sum: number; ratio_n: number }[];
  reasons: { step_name: string; reason: string; n: number }[];
  durations: { name: string; bucket: number; n: number }[];
}

const isFailed = (status: string) => (FAILED_STATUSES as readonly string[]).includes(status);

/** Groups rows by a key, keeping their order. */
function groupBy<R, T>(rows: R[], key: (r: R) => string, value: (r: R) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(key(r)) ?? [];
    list.push(value(r));
    out.set(key(r), list);
  }
  return out;
}

export function pipelineAnalyticsOf(pipeline: string, { from, to, bucket }: AnalyticsRange, rows: PipelineRollupRows): Omit<PipelineAnalyticsDto, 'scores'> {
  const byStatus: Record<RunStatus, number> = { running: 0, success: 0, error: 0, cancelled: 0, timed_out: 0 };
  const noRuns = (): Record<RunStatus, number> => ({ running: 0, success: 0, error: 0, cancelled: 0, timed_out: 0 });
  const series = new Map<number, { runs: number; errors: number; byStatus: Record<RunStatus, number> }>();
  for (const r of rows.runs) {
    byStatus[r.status as RunStatus] += r.n;
    const point = series.get(r.start.getTime()) ?? { runs: 0, errors: 0, byStatus: noRuns() };
    point.runs += r.n;
    point.byStatus[r.status as RunStatus] += r.n;
    if (isFailed(r.status)) point.errors += r.n;
    series.set(r.start.getTime(), point);
  }
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const finished = total - byStatus.running;
  const failedRuns = FAILED_STATUSES.reduce((n, s) => n + byStatus[s], 0);

  const reasons = groupBy(
    rows.reasons,
    (r) => r.step_name,
    (r) => ({ reason: r.reason, count: r.n }),
  );
  const durations = groupBy(
    rows.durations,
    (r) => r.name,
    (r) => ({ bucket: r.bucket, n: r.n }),
  );

  const points: PipelineAnalyticsDto['timeSeries']['points'] = [];
  const size = bucket === 'hour' ? HOUR : DAY;
  for (let t = Math.floor(from.getTime() / size) * size; t < to.getTime(); t += size) {
    const row = series.get(t);
    points.push({ start: new Date(t).toISOString(), runs: row?.runs ?? 0, errors: row?.errors ?? 0, byStatus: row?.byStatus ?? noRuns() });
  }

  return {
    pipeline,
    from: from.toISOString(),
    to: to.toISOString(),
    runs: { total, byStatus, errorRate: finished > 0 ? failedRuns / finished : null },
    steps: rows.steps.map((s) => {
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
