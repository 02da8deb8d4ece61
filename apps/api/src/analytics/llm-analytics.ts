import type { LlmUsageRow } from './analytics.repository.js';
import type { LlmAnalyticsDto, LlmUsageDto } from './llm-analytics.dto.js';
import { type AnalyticsRange, percentileFromBuckets } from './pipeline-analytics.js';

/** The LLM analytics answer from the rollup rows (pure). */

const HOUR = 3_600_000;
const DAY = 86_400_000;

const usageOf = (r: LlmUsageRow): LlmUsageDto => ({
  calls: r.calls,
  inputTokens: Number(r.input_tokens),
  outputTokens: Number(r.output_tokens),
  totalTokens: Number(r.total_tokens),
  cacheReadTokens: Number(r.cache_read_tokens),
  costUsd: Number(r.cost_usd),
});
const empty = (): LlmUsageDto => ({ calls: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, cacheReadTokens: 0, costUsd: 0 });
/** Most expensive first, then most tokens, then by name. */
const byCost =
  <T extends LlmUsageDto>(key: (x: T) => string) =>
  (a: T, b: T) =>
    b.costUsd - a.costUsd || b.totalTokens - a.totalTokens || key(a).localeCompare(key(b));

export function llmAnalyticsOf(
  pipeline: string | null,
  { from, to, bucket }: AnalyticsRange,
  rows: LlmUsageRow[],
  durations: { model: string; bucket: number; n: number }[],
): LlmAnalyticsDto {
  const points = new Map<number, LlmUsageDto>();
  const byPipeline: LlmAnalyticsDto['byPipeline'] = [];
  const byStep: LlmAnalyticsDto['byStep'] = [];
  const byModel: LlmAnalyticsDto['byModel'] = [];
  const histograms = new Map<string, { bucket: number; n: number }[]>();
  for (const d of durations) histograms.set(d.model, [...(histograms.get(d.model) ?? []), { bucket: d.bucket, n: d.n }]);
  for (const r of rows) {
    if (r.grouping === 'time') points.set(new Date(r.start!).getTime(), usageOf(r));
    else if (r.grouping === 'pipeline') byPipeline.push({ pipeline: r.pipeline!, ...usageOf(r) });
    else if (r.grouping === 'step') byStep.push({ pipeline: r.pipeline!, name: r.name!, ...usageOf(r) });
    else {
      const histogram = histograms.get(r.model!) ?? [];
      byModel.push({
        model: r.model!,
        ...usageOf(r),
        p50DurationMs: percentileFromBuckets(histogram, 0.5),
        p95DurationMs: percentileFromBuckets(histogram, 0.95),
      });
    }
  }
  const totals = empty();
  for (const p of byPipeline) {
    for (const k of Object.keys(totals) as (keyof LlmUsageDto)[]) totals[k] += p[k];
  }
  // Sums of decimal costs in floating point: rounded to what the database's exact sums allow.
  totals.costUsd = Number(totals.costUsd.toPrecision(15));
  const size = bucket === 'hour' ? HOUR : DAY;
  const timeSeries: LlmAnalyticsDto['timeSeries'] = [];
  for (let t = Math.floor(from.getTime() / size) * size; t < to.getTime(); t += size) {
    timeSeries.push({ start: new Date(t).toISOString(), ...(points.get(t) ?? empty()) });
  }
  return {
    pipeline,
    from: from.toISOString(),
    to: to.toISOString(),
    bucket,
    totals,
    timeSeries,
    byPipeline: byPipeline.sort(byCost((x) => x.pipeline)),
    byStep: byStep.sort(byCost((x) => `${x.pipeline}\u0000${x.name}`)).slice(0, 200),
    byModel: byModel.sort(byCost((x) => x.model)),
  };
}
