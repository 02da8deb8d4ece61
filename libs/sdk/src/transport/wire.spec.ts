import { byteLength, candidateCount, encodeEvent, eventJson, requestJson, splitCandidates } from './wire.js';

const ts = '2026-01-05T10:00:00.000Z';
const noFallback = () => {
  throw new Error('no fallback expected');
};

describe('wire', () => {
  it('serialises an event once, as the API reads it, and measures it', () => {
    const body = { id: 'r1', pipeline: 'competitor-selection', input: { title: 'laptop stand' } };
    const e = encodeEvent('run-create', body, ts, noFallback);
    body.input.title = 'changed later';
    const json = eventJson(e);
    expect(JSON.parse(json)).toEqual({
      id: e.id,
      type: 'run-create',
      timestamp: ts,
      body: { id: 'r1', pipeline: 'competitor-selection', input: { title: 'laptop stand' } },
    });
    expect(e.bytes).toBe(byteLength(json));
  });

  it('keeps each candidate apart, so a batch is cut in halves that together hold it exactly', () => {
    const candidates = Array.from({ length: 5 }, (_, i) => ({
      key: `B0${i}`,
      decision: 'rejected' as const,
      reason: i % 2 ? 'price above $50' : 'prix > 50 €, « trop cher »',
      data: { n: [i, { deep: '}],[' }] },
    }));
    const e = encodeEvent('candidates-create', { stepId: 's1', candidates }, ts, noFallback);
    expect(JSON.parse(eventJson(e)).body).toEqual({ stepId: 's1', candidates });
    const halves = splitCandidates(e)!;
    const parts = halves.map((h) => JSON.parse(eventJson(h)) as { id: string; timestamp: string; body: { stepId: string; candidates: unknown[] } });
    expect(parts.map((p) => p.body.candidates.length)).toEqual([3, 2]);
    expect(parts.flatMap((p) => p.body.candidates)).toEqual(candidates);
    expect(parts.every((p) => p.body.stepId === 's1' && p.timestamp === ts && p.id !== e.id)).toBe(true);
    expect(splitCandidates(halves[1])!.map(candidateCount)).toEqual([1, 1]);
    expect(splitCandidates(splitCandidates(halves[1])![0])).toBeUndefined();
    // Cut down to single candidates, every piece is valid and the order is kept.
    const singles: ReturnType<typeof encodeEvent>[] = [];
    const cut = (ev: ReturnType<typeof encodeEvent>): void => {
      const h = splitCandidates(ev);
      if (h) h.forEach(cut);
      else singles.push(ev);
    };
    cut(e);
    expect(singles.flatMap((s) => (JSON.parse(eventJson(s)) as { body: { candidates: unknown[] } }).body.candidates)).toEqual(candidates);
    expect(singles.every((s) => s.bytes === byteLength(eventJson(s)))).toBe(true);
  });

  it('assembles a request from the serialised events, and replaces what JSON cannot hold', () => {
    const problems: unknown[] = [];
    const a = encodeEvent('step-create', { id: 's1', runId: 'r1', name: 'filter', input: { n: 10n } as never }, ts, (err) => problems.push(err));
    const b = encodeEvent('candidates-create', { stepId: 's1', candidates: [] }, ts, noFallback);
    const req = JSON.parse(requestJson([a, b])) as { events: { body: Record<string, unknown> }[] };
    expect(req.events.map((e) => e.body)).toEqual([
      { id: 's1', runId: 'r1', name: 'filter', input: { n: '10' } },
      { stepId: 's1', candidates: [] },
    ]);
    expect(problems).toHaveLength(1);
    expect(JSON.parse(requestJson([]))).toEqual({ events: [] });
  });
});
