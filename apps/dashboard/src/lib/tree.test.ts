import { describe, expect, it } from 'vitest';
import { allSteps, ancestorsOf, buildTree, flattenTree, timeSpan, type TreeStep } from './tree.js';

const t0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const step = (id: string, start: number, end: number | null, children: TreeStep[] = []): TreeStep => ({
  id,
  name: id,
  startedAt: at(start),
  endedAt: end === null ? null : at(end),
  durationMs: end === null ? null : end - start,
  children,
});

describe('tree layout', () => {
  const tree = [step('a', 0, 100, [step('a1', 10, 40), step('a2', 40, 100, [step('a2x', 50, 60)])]), step('b', 100, 200), step('c', 100, 150)];

  it('flattens parents before children, siblings in order, with depth and parent', () => {
    const rows = flattenTree(tree, timeSpan(at(0), at(200), tree));
    expect(rows.map((r) => [r.step.id, r.depth, r.parentId, r.hasChildren])).toEqual([
      ['a', 0, null, true],
      ['a1', 1, 'a', false],
      ['a2', 1, 'a', true],
      ['a2x', 2, 'a2', false],
      ['b', 0, null, false],
      ['c', 0, null, false],
    ]);
  });

  it('places waterfall bars on the run span, so parallel siblings overlap', () => {
    const rows = flattenTree(tree, timeSpan(at(0), at(200), tree));
    const bar = Object.fromEntries(rows.map((r) => [r.step.id, [r.offset, r.width]]));
    expect(bar.a).toEqual([0, 0.5]);
    expect(bar.a2x).toEqual([0.25, 0.05]);
    // b and c start together (parallel): same offset
    expect(bar.b[0]).toBe(0.5);
    expect(bar.c[0]).toBe(0.5);
    expect(bar.c[1]).toBe(0.25);
  });

  it('skips the children of collapsed steps', () => {
    const rows = flattenTree(tree, timeSpan(at(0), at(200), tree), new Set(['a']));
    expect(rows.map((r) => r.step.id)).toEqual(['a', 'b', 'c']);
  });

  it('extends the span to steps that end after the run, and to now for running steps', () => {
    expect(timeSpan(at(0), at(100), [step('x', 0, 300)])).toEqual({ start: t0, end: t0 + 300 });
    expect(timeSpan(at(0), null, [step('x', 0, null)], t0 + 5000)).toEqual({ start: t0, end: t0 + 5000 });
  });

  it('gives zero-length steps a visible sliver and never overflows the row', () => {
    const rows = flattenTree([step('z', 200, 200)], { start: t0, end: t0 + 200 });
    expect(rows[0].offset).toBe(1);
    expect(rows[0].width).toBeGreaterThan(0);
  });

  it('finds the ancestors of a deep step, and every step in pre-order', () => {
    expect(ancestorsOf(tree, 'a2x')).toEqual(['a', 'a2']);
    expect(ancestorsOf(tree, 'nope')).toBeNull();
    expect(allSteps(tree).map((s) => s.id)).toEqual(['a', 'a1', 'a2', 'a2x', 'b', 'c']);
  });

  it('rebuilds a tree from a flat paged listing, ordered by position', () => {
    const flat = [
      { id: 'c1', parentStepId: 'r', position: 1 },
      { id: 'r2', parentStepId: null, position: 1 },
      { id: 'c0', parentStepId: 'r', position: 0 },
      { id: 'r', parentStepId: null, position: 0 },
      { id: 'orphan', parentStepId: 'missing', position: 5 },
    ];
    const roots = buildTree(flat);
    expect(roots.map((n) => n.id)).toEqual(['r', 'r2', 'orphan']);
    expect(roots[0].children.map((n) => (n as { id: string }).id)).toEqual(['c0', 'c1']);
  });
});
