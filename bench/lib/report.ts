/** How benchmarks describe their figures: median and spread beside a baseline and the ratio. */
import type { ApiMode } from './api.js';
import { printTable, summarize } from './stats.js';

export interface BenchContext {
  /** Tiny sizes, few rounds: proves the benchmark still works (npm test runs it). */
  smoke: boolean;
  /** How the API is started: a child process (full runs) or in this process (the smoke in jest). */
  mode: ApiMode;
  /** The PostgreSQL server fresh benchmark databases are created on. */
  adminUrl: string;
  /** Also CPU-profile the API during the last round and print where its time went. */
  profile?: boolean;
  /** Overrides the number of measured rounds. */
  rounds?: number;
  log: (line: string) => void;
}

export interface Comparison {
  /** What is measured, e.g. "API rows/s". */
  metric: string;
  values: number[];
  baseline: string;
  baselineValues: number[];
  /** Larger is better (throughput) or smaller is better (latency, memory). */
  higherIsBetter: boolean;
  /** The ratio the issue asks for (value / baseline), if any. */
  targetRatio?: number;
  unit: string;
  digits?: number;
}

export interface ComparisonResult {
  metric: string;
  median: number;
  baselineMedian: number;
  ratio: number;
  met?: boolean;
}

const fmt = (v: number, digits = 0) =>
  Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

export const range = (values: number[], digits = 0): string => {
  const s = summarize(values);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
};

/** Prints measured figures beside their baselines with the ratio of the medians and the target. */
export function printComparisons(log: (s: string) => void, rows: Comparison[]): ComparisonResult[] {
  const results: ComparisonResult[] = [];
  printTable(
    log,
    ['figure', 'median (min–max)', 'baseline', 'baseline median (min–max)', 'ratio', 'target'],
    rows.map((r) => {
      const median = summarize(r.values).median;
      const baselineMedian = summarize(r.baselineValues).median;
      const ratio = median / baselineMedian;
      const met = r.targetRatio === undefined ? undefined : r.higherIsBetter ? ratio >= r.targetRatio : ratio <= r.targetRatio;
      results.push({ metric: r.metric, median, baselineMedian, ratio, met });
      return [
        `${r.metric} (${r.unit})`,
        range(r.values, r.digits),
        r.baseline,
        range(r.baselineValues, r.digits),
        `${(ratio * 100).toFixed(0)}%`,
        r.targetRatio === undefined ? '-' : `${r.higherIsBetter ? '>=' : '<='} ${(r.targetRatio * 100).toFixed(0)}% ${met ? 'met' : 'MISSED'}`,
      ];
    }),
  );
  return results;
}

export const fmtNumber = fmt;

/** Runs `fn` `count` times and collects its results. */
export async function rounds<T>(count: number, fn: (round: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(await fn(i));
  return out;
}
