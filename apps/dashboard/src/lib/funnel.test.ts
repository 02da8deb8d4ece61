import { describe, expect, it } from 'vitest';
import { buildFunnel, countsBadge } from './funnel.js';

import type { FunnelStep } from './funnel.js';

const s = (id: string, i: number, o: number, children: FunnelStep[] = []): FunnelStep => ({ id, name: id, candidatesIn: i, candidatesOut: o, children });

describe('candidate funnel', () => {
  const steps = [
    s('keywords', 0, 0),
    s('search', 5000, 5000),
    s('filter', 5000, 412, [s('price', 5000, 1200), s('rating', 1200, 412), s('category', 412, 412)]),
    s('rank', 412, 0),
    s('select', 10, 1),
  ];

  it('has one bar per step with candidates, in tree order, with exact in/out/dropped', () => {
    const bars = buildFunnel(steps);
    expect(bars.map((b) => [b.name, b.depth, b.in, b.out, b.dropped])).toEqual([
      ['search', 0, 5000, 5000, 0],
      ['filter', 0, 5000, 412, 4588],
      ['price', 1, 5000, 1200, 3800],
      ['rating', 1, 1200, 412, 788],
      ['category', 1, 412, 412, 0],
      ['rank', 0, 412, 0, 412],
      ['select', 0, 10, 1, 9],
    ]);
  });

  it('scales bars to the largest input and flags 0%, ≥90% and 100% elimination', () => {
    const bars = Object.fromEntries(buildFunnel(steps).map((b) => [b.name, b]));
    expect(bars.search.inWidth).toBe(1);
    expect(bars.rating.inWidth).toBeCloseTo(0.24);
    expect(bars.filter.outWidth).toBeCloseTo(412 / 5000);
    expect(bars.search.flag).toBe('none-dropped');
    expect(bars.filter.flag).toBe('most-dropped');
    expect(bars.rank.flag).toBe('all-dropped');
    expect(bars.price.flag).toBeNull();
    expect(bars.select.elimination).toBeCloseTo(0.9);
  });

  it('is empty for runs without candidates', () => {
    expect(buildFunnel([s('a', 0, 0)])).toEqual([]);
  });

  it('formats the in → out (−x%) badge', () => {
    expect(countsBadge(5000, 412)).toBe('5,000 → 412 (−92%)');
    expect(countsBadge(40, 40)).toBe('40 → 40 (−0%)');
    expect(countsBadge(0, 0)).toBe('');
  });
});
