import { percentileFromBuckets } from './pipeline-analytics.js';

const bucketOf = (ms: number) => (ms < 1 ? 0 : 1 + Math.floor(Math.log(ms) / Math.log(1.1)));

function histogram(values: number[]) {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(bucketOf(v), (counts.get(bucketOf(v)) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]).map(([bucket, n]) => ({ bucket, n }));
}

function exact(values: number[], q: number) {
  const s = [...values].sort((a, b) => a - b);
  const r = q * (s.length - 1);
  return s[Math.floor(r)] + (s[Math.ceil(r)] - s[Math.floor(r)]) * (r - Math.floor(r));
}

describe('percentileFromBuckets', () => {
  it('is within 10% of the exact percentile on varied distributions', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const samples = [
      Array.from({ length: 1000 }, () => 5 + rand() * 2000),
      Array.from({ length: 1000 }, () => Math.exp(rand() * 12)),
      Array.from({ length: 50 }, (_, i) => 100 * (i + 1)),
    ];
    for (const values of samples) {
      for (const q of [0.5, 0.95]) {
        const want = exact(values, q);
        expect(Math.abs(percentileFromBuckets(histogram(values), q)! - want) / want).toBeLessThan(0.1);
      }
    }
  });

  it('answers null for no data and handles sub-millisecond durations', () => {
    expect(percentileFromBuckets([], 0.5)).toBeNull();
    expect(percentileFromBuckets([{ bucket: 0, n: 3 }], 0.5)).toBeLessThan(1);
  });
});
