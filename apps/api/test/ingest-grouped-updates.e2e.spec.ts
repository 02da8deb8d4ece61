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
    await request(t.http)
      .post('/v1/runs')
      .set(auth())
      .send({ id: runId, pipeline: 'grouped', metadata: { a: 1 }, startedAt: '2026-05-01T10:00:00.000Z' })
      .expect(201);
    const steps: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      await request(t.http)
        .post(`/v1/runs/${runId}/steps`)
        .set(auth())
        .send({ id, name: `s${i}`, metadata: { a: 1 }, startedAt: '2026-05-01T10:00:00.000Z' })
        .expect(201);
      steps.push(id);
    }
    return { runId, steps };
  }

  const state = async (runId: string) => {
    const [run] = await t.sql(`SELECT status, output, error, metadata, tags, ended_at IS NULL AS open, ended_at FROM runs WHERE id = $1`, [runId]);
    const steps = await t.sql<Record<string, unknown> & { name: string; status: string; reasoning: string | null }>(
      `SELECT name, position, status, output, error, reasoning, metadata, reported_in, reported_out, ended_at IS NULL AS open, ended_at
       FROM steps WHERE run_id = $1 ORDER BY name`,
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

  it('a step created and updated in one batch ends as the create and then the PATCH leave it', async () => {
    // The batch inserts such a step with its update applied (one statement instead of two).
    const timestamp = '2026-05-01T10:00:04.000Z';
    const withEnd = (u: Record<string, unknown>) => (u.status && u.status !== 'running' && !u.endedAt ? { ...u, endedAt: timestamp } : u);
    const created = (i: number) => ({
      name: `s${i}`,
      type: 'filter',
      metadata: { a: 1 },
      output: { first: true },
      reasoning: 'at first',
      startedAt: '2026-05-01T10:00:00.000Z',
    });
    const single = (await request(t.http).post('/v1/runs').set(auth()).send({ pipeline: 'grouped', startedAt: '2026-05-01T10:00:00.000Z' }).expect(201)).body
      .id;
    const batch = (await request(t.http).post('/v1/runs').set(auth()).send({ pipeline: 'grouped', startedAt: '2026-05-01T10:00:00.000Z' }).expect(201)).body.id;
    const events: unknown[] = [];
    for (const [i, u] of stepUpdates.entries()) {
      const step = (await request(t.http).post(`/v1/runs/${single}/steps`).set(auth()).send(created(i)).expect(201)).body;
      await request(t.http).patch(`/v1/steps/${step.id}`).set(auth()).send(withEnd(u)).expect(200);
      const id = randomUUID();
      events.push({ id: randomUUID(), type: 'step-create', body: { id, runId: batch, ...created(i) } });
      events.push({ id: randomUUID(), type: 'step-update', timestamp, body: { id, ...u } });
    }
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual(stepUpdates.flatMap(() => [201, 200]));
    expect((await state(batch)).steps).toEqual((await state(single)).steps);
  });

  it('a run created and updated in one batch ends as the create and then the PATCH leave it', async () => {
    const timestamp = '2026-05-01T10:00:06.000Z';
    const withEnd = (u: Record<string, unknown>) => (u.status && u.status !== 'running' && !u.endedAt ? { ...u, endedAt: timestamp } : u);
    const created = { pipeline: 'grouped', metadata: { a: 1 }, tags: ['t'], output: { first: true }, startedAt: '2026-05-01T10:00:00.000Z' };
    const events: unknown[] = [];
    const pairs: [string, string][] = [];
    for (const u of runUpdates) {
      const single = (await request(t.http).post('/v1/runs').set(auth()).send(created).expect(201)).body.id;
      await request(t.http).patch(`/v1/runs/${single}`).set(auth()).send(withEnd(u)).expect(200);
      const id = randomUUID();
      events.push({ id: randomUUID(), type: 'run-create', body: { id, ...created } });
      events.push({ id: randomUUID(), type: 'run-update', timestamp, body: { id, ...u } });
      pairs.push([single, id]);
    }
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual(runUpdates.flatMap(() => [201, 200]));
    for (const [single, batch] of pairs) expect((await state(batch)).run).toEqual((await state(single)).run);
  });

  it('keeps a run update in order with a replayed create of the same run in the batch', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const ev = (type: string, body: object) => ({ id: randomUUID(), type, body });
    const events = [
      ev('run-create', { id: a, pipeline: 'grouped', tags: ['one'] }),
      ev('run-update', { id: a, tags: ['two'] }),
      ev('run-create', { id: a, pipeline: 'grouped', tags: ['three'] }),
      ev('run-create', { id: b, pipeline: 'grouped', tags: ['one'] }),
      ev('run-create', { id: b, pipeline: 'grouped', tags: ['two'] }),
      ev('run-update', { id: b, tags: ['three'], status: 'success' }),
    ];
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 200, 200, 201, 200, 200]);
    expect((await state(a)).run).toMatchObject({ tags: ['three'], status: 'running' });
    expect((await state(b)).run).toMatchObject({ tags: ['three'], status: 'success' });
  });

  it('keeps a step update in order with a replayed create of the same step in the batch', async () => {
    const runId = (await request(t.http).post('/v1/runs').set(auth()).send({ pipeline: 'grouped' }).expect(201)).body.id;
    const [a, b] = [randomUUID(), randomUUID()];
    const ev = (type: string, body: object) => ({ id: randomUUID(), type, body });
    const events = [
      // a: create, update, replayed create: the replay comes last and wins.
      ev('step-create', { id: a, runId, name: 'a', reasoning: 'one' }),
      ev('step-update', { id: a, reasoning: 'two' }),
      ev('step-create', { id: a, runId, name: 'a', reasoning: 'three' }),
      // b: create, replayed create, update: the update comes last and wins.
      ev('step-create', { id: b, runId, name: 'b', reasoning: 'one' }),
      ev('step-create', { id: b, runId, name: 'b', reasoning: 'two' }),
      ev('step-update', { id: b, reasoning: 'three', status: 'success' }),
    ];
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 200, 200, 201, 200, 200]);
    const { steps } = await state(runId);
    expect(steps.map((s) => [s.name, s.reasoning, s.status])).toEqual([
      ['a', 'three', 'running'],
      ['b', 'three', 'success'],
    ]);
  });

  it('counts the candidates of steps created in the batch exactly, however their events are split', async () => {
    // New steps get their counts as they are inserted; candidates applied in order (keys that
    // overlap an earlier event, a step whose create is replayed) are counted as they are written.
    const runId = (await request(t.http).post('/v1/runs').set(auth()).send({ pipeline: 'grouped' }).expect(201)).body.id;
    const [plain, split, overlap, replayed] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const c = (keys: string[], rejected = 0) =>
      keys.map((key, i) => ({ key, decision: i < rejected ? 'rejected' : 'accepted', reason: i < rejected ? 'r' : undefined }));
    const ev = (type: string, body: object) => ({ id: randomUUID(), type, body });
    const events = [
      ev('step-create', { id: plain, runId, name: 'plain' }),
      ev('candidates-create', { stepId: plain, candidates: c(['a', 'b', 'c'], 1) }),
      ev('step-create', { id: split, runId, name: 'split' }),
      ev('candidates-create', { stepId: split, candidates: c(['a', 'b'], 2) }),
      ev('candidates-create', { stepId: split, candidates: c(['c', 'd', 'e']) }),
      ev('step-create', { id: overlap, runId, name: 'overlap' }),
      ev('candidates-create', { stepId: overlap, candidates: c(['a', 'b'], 1) }),
      ev('candidates-create', { stepId: overlap, candidates: c(['b', 'c'], 2) }),
      ev('step-create', { id: replayed, runId, name: 'replayed' }),
      ev('candidates-create', { stepId: replayed, candidates: c(['a', 'b'], 1) }),
      ev('step-create', { id: replayed, runId, name: 'replayed', reasoning: 'again' }),
      ev('step-update', { id: split, status: 'success' }),
    ];
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.body.results.filter((r: { status: number }) => r.status >= 300)).toEqual([]);
    const rows = await t.sql(
      `SELECT name, stored_in, stored_out,
              (SELECT count(*)::int FROM candidates c WHERE c.project_id = s.project_id AND c.step_id = s.id) AS stored,
              (SELECT count(*)::int FROM candidates c WHERE c.project_id = s.project_id AND c.step_id = s.id AND c.decision <> 'rejected') AS kept
       FROM steps s WHERE run_id = $1 ORDER BY name`,
      [runId],
    );
    expect(rows).toEqual([
      { name: 'overlap', stored_in: 3, stored_out: 0, stored: 3, kept: 0 },
      { name: 'plain', stored_in: 3, stored_out: 2, stored: 3, kept: 2 },
      { name: 'replayed', stored_in: 2, stored_out: 1, stored: 2, kept: 1 },
      { name: 'split', stored_in: 5, stored_out: 3, stored: 5, kept: 3 },
    ]);
    // A replay of the whole batch changes nothing.
    await request(t.http).post('/v1/ingest').set(auth()).send({ events }).expect(207);
    expect(await t.sql(`SELECT name, stored_in, stored_out FROM steps WHERE run_id = $1 ORDER BY name`, [runId])).toEqual(
      rows.map(({ name, stored_in, stored_out }) => ({ name, stored_in, stored_out })),
    );
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
    const {
      steps: [step],
    } = await state(runId);
    expect(step).toMatchObject({ status: 'running', open: true, reasoning: 'last', metadata: { a: 1, first: 1, second: 2 } });
  });
});
