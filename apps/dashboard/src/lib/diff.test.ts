import { describe, expect, it } from 'vitest';
import { alignSteps, listFlips, type ComparedStep, type SideStep } from './diff.js';

const side = (id: string, status = 'success', durationMs = 100, i = 0, o = 0): SideStep => ({
  id,
  status,
  durationMs,
  candidatesIn: i,
  candidatesOut: o,
  eliminationRatio: i ? 1 - o / i : null,
});
const cmp = (
  path: string[],
  left: SideStep | null,
  right: SideStep | null,
  differences: ComparedStep['differences'] = {},
  candidates: ComparedStep['candidates'] = null,
): ComparedStep => ({ path, left, right, differences, candidates });

describe('run diff alignment', () => {
  const steps = [
    cmp(['search'], side('l1'), side('r1')),
    cmp(
      ['filter'],
      side('l2', 'success', 100, 100, 10),
      side('r2', 'success', 150, 100, 12),
      { durationMs: { left: 100, right: 150 }, candidatesOut: { left: 10, right: 12 } },
      {
        keptLeftRejectedRight: ['B0AAA'],
        keptRightRejectedLeft: ['B0XYZ', 'B0QQQ', 'B0ZZZ'],
        keptLeftRejectedRightCount: 1,
        keptRightRejectedLeftCount: 3,
      },
    ),
    cmp(['filter', 'price'], side('l3'), null),
    cmp(['rank'], side('l5', 'success'), side('r5', 'error'), { status: { left: 'success', right: 'error' } }),
    cmp(['filter', 'category'], null, side('r4')),
  ];

  it('keeps children right after their parent and marks one-sided steps', () => {
    const rows = alignSteps(steps);
    expect(rows.map((r) => [r.key, r.depth, r.kind])).toEqual([
      ['search', 0, 'both'],
      ['filter', 0, 'both'],
      ['filter/price', 1, 'left-only'],
      ['filter/category', 1, 'right-only'],
      ['rank', 0, 'both'],
    ]);
  });

  it('flags changed fields, duration deltas and flip counts', () => {
    const rows = Object.fromEntries(alignSteps(steps).map((r) => [r.key, r]));
    expect([...rows.filter.changed].sort()).toEqual(['candidatesOut', 'durationMs']);
    expect(rows.filter.durationDelta).toBeCloseTo(0.5);
    expect(rows.filter.flips).toBe(4);
    expect([...rows.rank.changed]).toEqual(['status']);
    expect(rows.search.changed.size).toBe(0);
    expect(rows['filter/price'].durationDelta).toBeNull();
  });

  it('lists every flipped candidate with the side that kept it and both step ids', () => {
    const flips = listFlips(steps);
    expect(flips.map((f) => [f.key, f.direction, f.leftStepId, f.rightStepId])).toEqual([
      ['B0AAA', 'kept-left', 'l2', 'r2'],
      ['B0XYZ', 'kept-right', 'l2', 'r2'],
      ['B0QQQ', 'kept-right', 'l2', 'r2'],
      ['B0ZZZ', 'kept-right', 'l2', 'r2'],
    ]);
  });
});
