import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

describe('GET /v1/pipelines', () => {
  let t: TestApp;
  let key: string;
  let otherKey: string;
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const list = (query = '', k = key) => request(t.http).get(`/v1/pipelines${query}`).set(auth(k));
  const run = (body: object, k = key) =>
    request(t.http)
      .post('/v1/runs')
      .set(auth(k))
      .send(body)
      .expect((r) => expect(r.status).toBe(201));

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('pipelines')).key;
    otherKey = (await t.newProject('pipelines-other')).key;
    // Three pipelines; their newest runs started in the order rag-answer < Competitor-Selection < nightly_100%.
    for (const [pipeline, startedAt] of [
      ['Competitor-Selection', '2026-11-01T10:00:00.000Z'],
      ['Competitor-Selection', '2026-11-20T08:30:00.250Z'],
      ['rag-answer', '2026-10-02T00:00:00.000Z'],
      ['Competitor-Selection', '2026-11-03T10:00:00.000Z'],
      ['nightly_100%', '2026-11-29T23:59:59.999Z'],
    ] as const) {
      await run({ pipeline, startedAt });
    }
    // Another project's pipelines never show.
    await run({ pipeline: 'competitor-selection-secret', startedAt: '2026-11-30T00:00:00.000Z' }, otherKey);
  }, 60_000);
  afterAll(async () => t?.close());

  it('lists each pipeline with its run count and latest start, most recently run first', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [
        { name: 'nightly_100%', runCount: 1, lastRunAt: '2026-11-29T23:59:59.999Z' },
        { name: 'Competitor-Selection', runCount: 3, lastRunAt: '2026-11-20T08:30:00.250Z' },
        { name: 'rag-answer', runCount: 1, lastRunAt: '2026-10-02T00:00:00.000Z' },
      ],
    });
  });

  it('agrees with the runs table after runs change pipeline and status', async () => {
    const created = await run({ pipeline: 'rag-answer', startedAt: '2026-11-30T12:00:00.000Z' });
    // A replay that renames the run's pipeline moves it in the list (its start stays as first
    // stored: the partition key of its steps and candidates).
    await request(t.http).post('/v1/runs').set(auth()).send({ id: created.body.id, pipeline: 'reranker', startedAt: '2026-09-01T00:00:00.000Z' }).expect(200);
    await request(t.http).patch(`/v1/runs/${created.body.id}`).set(auth()).send({ status: 'success' }).expect(200);
    const res = await list();
    const expected = await t.sql<{ name: string; run_count: number; last_run_at: Date }>(
      `SELECT pipeline AS name, count(*)::int AS run_count, max(started_at) AS last_run_at FROM runs
       WHERE project_id = (SELECT project_id FROM runs WHERE id = $1) GROUP BY pipeline ORDER BY max(started_at) DESC, pipeline`,
      [created.body.id],
    );
    expect(res.body.items).toEqual(expected.map((r) => ({ name: r.name, runCount: r.run_count, lastRunAt: r.last_run_at.toISOString() })));
    expect(res.body.items[0]).toEqual({ name: 'reranker', runCount: 1, lastRunAt: '2026-11-30T12:00:00.000Z' });
    expect(res.body.items.find((p: { name: string }) => p.name === 'rag-answer')).toEqual({
      name: 'rag-answer',
      runCount: 1,
      lastRunAt: '2026-10-02T00:00:00.000Z',
    });
  });

  it('filters by a case-insensitive substring of the name, taken literally', async () => {
    expect((await list('?q=SELECTION')).body.items.map((p: { name: string }) => p.name)).toEqual(['Competitor-Selection']);
    expect((await list('?q=100%25')).body.items.map((p: { name: string }) => p.name)).toEqual(['nightly_100%']);
    // `_` and `%` are not wildcards.
    expect((await list('?q=_')).body.items.map((p: { name: string }) => p.name)).toEqual(['nightly_100%']);
    expect((await list('?q=%25')).body.items.map((p: { name: string }) => p.name)).toEqual(['nightly_100%']);
    expect((await list('?q=nothing-like-it')).body.items).toEqual([]);
  });

  it('caps the answer at limit', async () => {
    const res = await list('?limit=2');
    expect(res.body.items.map((p: { name: string }) => p.name)).toEqual(['reranker', 'nightly_100%']);
  });

  it('refuses bad parameters with 400', async () => {
    for (const query of ['?limit=0', '?limit=1001', '?limit=ten', `?q=${'x'.repeat(201)}`, '?pipeline=x']) {
      expectError(await list(query), 400);
    }
  });

  it('shows a project only its own pipelines, and needs the read scope', async () => {
    expect((await list('', otherKey)).body.items).toEqual([{ name: 'competitor-selection-secret', runCount: 1, lastRunAt: '2026-11-30T00:00:00.000Z' }]);
    const ingest = await request(t.http)
      .post('/v1/api-keys')
      .set(auth())
      .send({ name: 'pipeline', scopes: ['ingest'] });
    expectError(await list('', ingest.body.key), 403, 'INSUFFICIENT_SCOPE');
    expectError(await request(t.http).get('/v1/pipelines'), 401);
  });
});
