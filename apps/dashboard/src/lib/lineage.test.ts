import { describe, expect, it } from 'vitest';
import { buildLineage, decidingReason, type Evaluation } from './lineage.js';

const ev = (
  runId: string,
  stepName: string,
  decision: Evaluation['decision'],
  createdAt: string,
  reason: string | null = null,
  evaluations: Evaluation['evaluations'] = null,
): Evaluation => ({
  runId,
  stepId: `${runId}-${stepName}`,
  stepName,
  pipeline: 'competitor-selection',
  decision,
  reason,
  score: null,
  createdAt,
  evaluations,
});

describe('item lineage grid', () => {
  const items = [
    // newest first, as the API lists them
    ev('r2', 'filter-by-category', 'rejected', '2026-01-02T00:00:02Z', 'category mismatch'),
    ev('r2', 'search', 'accepted', '2026-01-02T00:00:01Z'),
    ev('r1', 'select', 'selected', '2026-01-01T00:00:03Z'),
    ev('r1', 'filter-by-category', 'accepted', '2026-01-01T00:00:02Z', null, [{ check: 'category', passed: true, detail: 'title mentions "stand"' }]),
    ev('r1', 'search', 'accepted', '2026-01-01T00:00:01Z'),
  ];

  it('puts runs oldest first across and steps in pipeline order down', () => {
    const g = buildLineage(items);
    expect(g.runs.map((r) => r.runId)).toEqual(['r1', 'r2']);
    expect(g.steps).toEqual(['search', 'filter-by-category', 'select']);
    expect(g.cells.map((row) => row.map((c) => c?.evaluation.decision ?? null))).toEqual([
      ['accepted', 'accepted'],
      ['accepted', 'rejected'],
      ['selected', null],
    ]);
  });

  it('orders steps that share a time (one ingest batch) by the reversed, newest-first listing', () => {
    const same = '2026-01-01T00:00:00Z';
    const g = buildLineage([ev('r', 'select', 'selected', same), ev('r', 'rank', 'accepted', same), ev('r', 'search', 'accepted', same)]);
    expect(g.steps).toEqual(['search', 'rank', 'select']);
  });

  it('marks where the deciding reason or decision changed from the previous run', () => {
    const g = buildLineage(items);
    const cat = g.cells[1];
    expect(cat[0]).toMatchObject({ reasonChanged: false, decisionChanged: false });
    expect(cat[1]).toMatchObject({ reasonChanged: true, decisionChanged: true });
    expect(g.cells[0][1]).toMatchObject({ reasonChanged: false, decisionChanged: false });
  });

  it('uses failed checks, then passed check details, when there is no reason', () => {
    expect(decidingReason(items[3])).toBe('category: title mentions "stand"');
    expect(
      decidingReason(
        ev('r', 's', 'rejected', 'x', null, [
          { check: 'price', passed: false, detail: '$89 > $50' },
          { check: 'rating', passed: true },
        ]),
      ),
    ).toBe('price: $89 > $50');
    expect(decidingReason(items[0])).toBe('category mismatch');
  });
});
