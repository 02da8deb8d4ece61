import { CandidateTally, hashKey, selectCandidates, type CandidateInput } from './candidates.js';

function items(): CandidateInput[] {
  const list: CandidateInput[] = [];
  for (let i = 0; i < 1000; i++) {
    const reason = i % 10 === 0 ? undefined : i % 3 === 0 ? 'price above $50' : i % 3 === 1 ? 'rating below 4' : 'wrong category';
    list.push({ key: `B${i}`, decision: reason ? 'rejected' : 'accepted', ...(reason ? { reason } : {}) });
  }
  list[5] = { key: 'B5', decision: 'selected', reason: 'best match' };
  return list;
}

describe('selectCandidates', () => {
  it('counts the whole list exactly: totals, decisions and every reason', () => {
    const sel = selectCandidates(items(), 'none', 50, 10_000);
    expect(sel.keep).toBe('none');
    expect(sel.total).toBe(1000);
    expect(sel.byDecision).toEqual({ accepted: 100, rejected: 899, selected: 1 });
    expect(sel.out).toBe(101);
    const reasons = Object.fromEntries(sel.reasons);
    expect(reasons['best match']).toBe(1);
    expect(reasons['price above $50'] + reasons['rating below 4'] + reasons['wrong category']).toBe(899);
  });

  it('samples every kept candidate plus N rejected per reason, the same ones every time', () => {
    const list = items();
    const a = selectCandidates(list, 'sample', 20, 10_000);
    const b = selectCandidates([...list].reverse(), 'sample', 20, 10_000);
    expect(a.capture).toBe('sample');
    const keys = (sel: typeof a, l: CandidateInput[]) => (sel.keep as number[]).map((i) => String(l[i].key)).sort();
    // Deterministic by key, not by position.
    expect(keys(b, [...list].reverse())).toEqual(keys(a, list));
    const kept = (a.keep as number[]).map((i) => list[i]);
    expect(kept.filter((c) => c.decision !== 'rejected')).toHaveLength(101);
    for (const reason of ['price above $50', 'rating below 4', 'wrong category']) {
      expect(kept.filter((c) => c.reason === reason)).toHaveLength(20);
    }
    // List order is kept.
    expect([...(a.keep as number[])].sort((x, y) => x - y)).toEqual(a.keep);
    // The chosen ones are those with the smallest key hashes.
    const priceKeys = list.filter((c) => c.reason === 'price above $50').map((c) => String(c.key));
    const smallest = [...priceKeys]
      .sort((x, y) => hashKey(x) - hashKey(y))
      .slice(0, 20)
      .sort();
    expect(
      kept
        .filter((c) => c.reason === 'price above $50')
        .map((c) => String(c.key))
        .sort(),
    ).toEqual(smallest);
  });

  it('falls back from all to sample past the limit, and says so', () => {
    const sel = selectCandidates(items(), 'all', 10, 500);
    expect(sel.capture).toBe('sample');
    expect(sel.sampledAbove).toBe(500);
    expect((sel.keep as number[]).length).toBe(101 + 30);
    expect(selectCandidates(items(), 'all', 10, 5000).keep).toBe('all');
  });

  it('skips items without a key or with an unknown decision and counts them apart', () => {
    const list = [{ key: 'a', decision: 'accepted' }, { key: '', decision: 'accepted' }, { key: 'c', decision: 'maybe' }, null] as unknown as CandidateInput[];
    const sel = selectCandidates(list, 'all', 10, 100);
    expect(sel.total).toBe(1);
    expect(sel.invalid).toEqual([1, 2, 3]);
    expect(sel.keep).toEqual([0]);
  });
});

describe('CandidateTally', () => {
  it('adds several calls up and caps the histogram with a marker', () => {
    const t = new CandidateTally();
    const mk = (n: number, prefix: string): CandidateInput[] =>
      Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, decision: 'rejected', reason: `r${i % 5}` }));
    t.add(selectCandidates(mk(10, 'a'), 'all', 50, 10_000), 10, 50);
    t.add(selectCandidates(mk(20, 'b'), 'none', 50, 10_000), 0, 50);
    const s = t.toStats(3);
    expect(s).toMatchObject({ capture: 'mixed', total: 30, out: 0, stored: 10, byDecision: { accepted: 0, rejected: 30, selected: 0 }, reasonsOmitted: 2 });
    expect(Object.values(s.reasons)).toEqual([6, 6, 6]);
  });
});
