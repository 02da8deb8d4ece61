import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, type TestApp } from './harness.js';

/**
 * /v1/ingest applies the run and step updates of a batch in two grouped statements. Whatever
 * fields an update carries, the result must be what the single endpoints (PATCH) leave.
 */
describe('POST /v1/ingest: grouped updates equal the single endpoints', () => {
  let t: TestApp;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('grouped')).key;
  });
  afterAll(async () => t?.close());

  const stepUpdates: Record<string, unknown>[] = [
    { status: 'success', output: { kept: 3 }, reasoning: 'under $50', metadata: { b: 2 }, candidatesIn: 10, candidatesOut: 3 },
    { status: 'error', error: { type: 'TimeoutError', message: 'ranker timed out' }, output: null },
    { status: 'success', endedAt: '2026-05-01T10:00:05.000Z' },
    { status: 'running' },
    { metadata: { c: { d: [1, 2] } }, reasoning: null },
    { status: 'cancelled', candidatesIn: 0 },
  ];
  const runUpdates: Record<string, unknown>[] = [
    { status: 'success', output: { picked: 'k0' }, tags: ['x', 'y'], metadata: { b: 2 } },
    { status: 'error', error: { type: 'RateLimitError', message: 'LLM rate limited' } },
    { endedAt: '2026-05-01T10:00:09.000Z', status: 'success' },
    { status: 'running', metadata: { again: true } },
  ];

  /** Creates a run with one step per update (started at a fixed time), through single calls. */
  async function setUp(n: number) {
    const runId = randomUUID();
    await request(t.http).post('/v1/runs').set(auth()).send({ id: runId, pipeline: 'grouped', metadata: { a: 1 }, startedAt: '2026-05-01T10:00:00.000Z' }).expect(201);
    const steps: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send({ id, name: `s${i}`, metadata: { a: 1 }, startedAt: '2026-05-01T10:00:00.000Z' }).expect(201);
      steps.push(id);
    }
    return { runId, steps };
  }

  const state = async (runId: string) => {
    const [run] = await t.sql(`SELECT status, output, error, metadata, tags, ended_at IS NULL AS open, ended_at FROM runs WHERE id = $1`, [runId]);
    const steps = await t.sql(
      `SELECT name, status, output, error, reasoning, metadata, reported_in, reported_out, ended_at IS NULL AS open, ended_at FROM steps WHERE run_id = $1 ORDER BY name`,
      [runId],
    );
    return { run, steps };
  };

  it.each(runUpdates.map((u, i) => [i, u]))('run update %i and every step update', async (i, runUpdate) => {
    const timestamp = '2026-05-01T10:00:03.000Z';
    // Single endpoints: the event time does not exist there, so both sides state endedAt or leave it to the status.
    const single = await setUp(stepUpdates.length);
    const batch = await setUp(stepUpdates.length);
    const withEnd = (u: Record<string, unknown>) => (u.status && u.status !== 'running' && !u.endedAt ? { ...u, endedAt: timestamp } : u);
    for (const [j, u] of stepUpdates.entries()) await request(t.http).patch(`/v1/steps/${single.steps[j]}`).set(auth()).send(withEnd(u)).expect(200);
    await request(t.http).patch(`/v1/runs/${single.runId}`).set(auth()).send(withEnd(runUpdate)).expect(200);

    const events = [
      ...stepUpdates.map((u, j) => ({ id: randomUUID(), type: 'step-update', timestamp, body: { id: batch.steps[j], ...u } })),
      { id: randomUUID(), type: 'run-update', timestamp, body: { id: batch.runId, ...runUpdate } },
    ];
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual(events.map(() => 200));
    expect(await state(batch.runId)).toEqual(await state(single.runId));
    expect(i).toBeGreaterThanOrEqual(0);
  });

  it('keeps several updates of one step in order', async () => {
    const { runId, steps } = await setUp(1);
    const events = [
      { id: randomUUID(), type: 'step-update', body: { id: steps[0], status: 'success', metadata: { first: 1 } } },
      { id: randomUUID(), type: 'step-update', body: { id: steps[0], status: 'running', metadata: { second: 2 } } },
      { id: randomUUID(), type: 'step-update', body: { id: steps[0], reasoning: 'last' } },
    ];
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([200, 200, 200]);
    const { steps: [step] } = await state(runId);
    expect(step).toMatchObject({ status: 'running', open: true, reasoning: 'last', metadata: { a: 1, first: 1, second: 2 } });
  });
});
