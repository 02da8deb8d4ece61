import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

describe('runs', () => {
  let t: TestApp;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('runs')).key;
  });
  afterAll(async () => t?.close());

  const createRun = (body: object) => request(t.http).post('/v1/runs').set(auth()).send(body);

  describe('GET /v1/runs counts', () => {
    it('gives each listed run its step count and the most candidates any of its steps considered', async () => {
      const pipeline = `counted-${randomUUID().slice(0, 8)}`;
      const empty = (await createRun({ pipeline }).expect(201)).body.id;
      const run = (await createRun({ pipeline }).expect(201)).body.id;
      const step = async (body: object) => (await request(t.http).post(`/v1/runs/${run}/steps`).set(auth()).send(body).expect(201)).body.id as string;
      const filter = await step({ name: 'filter', type: 'filter' });
      const price = await step({ name: 'filter-by-price', type: 'filter', parentStepId: filter });
      await step({ name: 'rank', type: 'rank' });
      const candidates = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `K${i}`, decision: i < 2 ? 'accepted' : 'rejected' }));
      await request(t.http)
        .post(`/v1/steps/${price}/candidates`)
        .set(auth())
        .send({ candidates: candidates(5) })
        .expect(201);
      await request(t.http).patch(`/v1/steps/${filter}`).set(auth()).send({ candidatesIn: 40, candidatesOut: 2 }).expect(200);

      const res = await request(t.http).get(`/v1/runs?pipeline=${pipeline}`).set(auth()).expect(200);
      expect(res.body.items.map((r: { id: string; stepCount: number; candidateCount: number }) => [r.id, r.stepCount, r.candidateCount])).toEqual([
        [run, 3, 40],
        [empty, 0, 0],
      ]);
    });
  });

  describe('POST /v1/runs', () => {
    it('creates a run with defaults and answers 201', async () => {
      const res = await createRun({ pipeline: 'competitor-selection', input: { q: 'laptop stand' }, tags: ['nightly'] });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        pipeline: 'competitor-selection',
        pipelineVersion: null,
        status: 'running',
        input: { q: 'laptop stand' },
        output: null,
        error: null,
        metadata: {},
        tags: ['nightly'],
        endedAt: null,
        durationMs: null,
      });
      expect(new Date(res.body.startedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    });

    it('accepts any JSON for input and output', async () => {
      for (const input of ['text', 42, [1, 'two', { three: 3 }], true, null]) {
        const res = await createRun({ pipeline: 'json', input, output: input });
        expect(res.status).toBe(201);
        expect(res.body.input).toEqual(input);
      }
    });

    it('is an idempotent upsert when the client id exists: 200, fields updated, no duplicate', async () => {
      const id = randomUUID();
      const first = await createRun({ id, pipeline: 'upsert', metadata: { a: 1 }, tags: ['x'] });
      expect(first.status).toBe(201);
      const again = await createRun({ id, pipeline: 'upsert', metadata: { b: 2 }, pipelineVersion: 'v2' });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id, pipelineVersion: 'v2', metadata: { a: 1, b: 2 }, tags: ['x'] });
      const replay = await createRun({ id, pipeline: 'upsert', metadata: { b: 2 }, pipelineVersion: 'v2' });
      expect(replay.status).toBe(200);
      expect(replay.body).toEqual({ ...again.body, updatedAt: replay.body.updatedAt });
      const rows = await t.sql('SELECT count(*)::int AS n FROM runs WHERE id = $1', [id]);
      expect(rows[0].n).toBe(1);
    });

    it('sets endedAt when created with an ending status', async () => {
      const res = await createRun({ pipeline: 'done', status: 'success', startedAt: new Date(Date.now() - 1500).toISOString() });
      expect(res.status).toBe(201);
      expect(res.body.endedAt).not.toBeNull();
      expect(res.body.durationMs).toBeGreaterThanOrEqual(1400);
    });

    it.each([
      [{}, 'pipeline'],
      [{ pipeline: '' }, 'pipeline'],
      [{ pipeline: 42 }, 'pipeline'],
      [{ pipeline: 'p', status: 'finished' }, 'status'],
      [{ pipeline: 'p', status: 'timed_out' }, 'status'],
      [{ pipeline: 'p', id: 'not-a-uuid' }, 'id'],
      [{ pipeline: 'p', tags: 'one' }, 'tags'],
      [{ pipeline: 'p', tags: [1] }, 'tags'],
      [{ pipeline: 'p', metadata: [1, 2] }, 'metadata'],
      [{ pipeline: 'p', metadata: 'x' }, 'metadata'],
      [{ pipeline: 'p', startedAt: 'yesterday' }, 'startedAt'],
      [{ pipeline: 'p', projectId: randomUUID() }, 'projectId'],
      [{ pipeline: 'p', unknownField: 1 }, 'unknownField'],
    ])('rejects %j with 400 naming %s', async (body, field) => {
      const res = await createRun(body);
      const error = expectError(res, 400, 'VALIDATION_FAILED');
      expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });

    it('rejects a JSON body that is not an object', async () => {
      expectError(await request(t.http).post('/v1/runs').set(auth()).set('Content-Type', 'application/json').send('[1,2]'), 400);
      expectError(await request(t.http).post('/v1/runs').set(auth()).set('Content-Type', 'application/json').send('"x"'), 400);
    });
  });

  describe('PATCH /v1/runs/:id', () => {
    it('completes a run: endedAt set to now, metadata merged, output and tags replaced', async () => {
      const run = (await createRun({ pipeline: 'patch', metadata: { a: 1, keep: true }, tags: ['t1'] })).body;
      const res = await request(t.http)
        .patch(`/v1/runs/${run.id}`)
        .set(auth())
        .send({ status: 'success', output: { picked: 'B0XYZ' }, metadata: { a: 2, b: 3 }, tags: ['t2'] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'success', output: { picked: 'B0XYZ' }, metadata: { a: 2, b: 3, keep: true }, tags: ['t2'] });
      expect(res.body.endedAt).not.toBeNull();
      expect(res.body.durationMs).toBeGreaterThanOrEqual(0);
    });

    it('records an error and honours an explicit endedAt', async () => {
      const startedAt = '2026-01-01T00:00:00.000Z';
      const run = (await createRun({ pipeline: 'patch', startedAt })).body;
      const res = await request(t.http)
        .patch(`/v1/runs/${run.id}`)
        .set(auth())
        .send({ status: 'error', error: { type: 'TimeoutError', message: 'search timed out', stack: 'at x' }, endedAt: '2026-01-01T00:00:02.500Z' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'error',
        error: { type: 'TimeoutError', message: 'search timed out', stack: 'at x' },
        endedAt: '2026-01-01T00:00:02.500Z',
        durationMs: 2500,
      });
    });

    it('rejects bad updates with 400 and unknown ids with 404', async () => {
      const run = (await createRun({ pipeline: 'patch' })).body;
      expectError(await request(t.http).patch(`/v1/runs/${run.id}`).set(auth()).send({ status: 'nope' }), 400, 'VALIDATION_FAILED');
      expectError(
        await request(t.http)
          .patch(`/v1/runs/${run.id}`)
          .set(auth())
          .send({ error: { type: 'x' } }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(await request(t.http).patch(`/v1/runs/${run.id}`).set(auth()).send({ pipeline: 'renamed' }), 400, 'VALIDATION_FAILED');
      expectError(await request(t.http).patch(`/v1/runs/${run.id}`).set(auth()).send({ endedAt: '2000-01-01T00:00:00Z' }), 400, 'INVALID_VALUE');
      expectError(await request(t.http).patch(`/v1/runs/${randomUUID()}`).set(auth()).send({ status: 'success' }), 404, 'RUN_NOT_FOUND');
      expectError(await request(t.http).patch('/v1/runs/123').set(auth()).send({ status: 'success' }), 400, 'INVALID_ID');
    });
  });

  describe('GET /v1/runs/:id', () => {
    it('returns the run with its ordered, nested step tree and candidate stats', async () => {
      const run = (await createRun({ pipeline: 'tree' })).body;
      const step = (name: string, parentStepId?: string) =>
        request(t.http)
          .post(`/v1/runs/${run.id}/steps`)
          .set(auth())
          .send({ name, parentStepId })
          .then((r) => r.body);
      const a = await step('a');
      const b = await step('b');
      const a1 = await step('a1', a.id);
      const a2 = await step('a2', a.id);
      const a1x = await step('a1x', a1.id);
      await request(t.http)
        .post(`/v1/steps/${b.id}/candidates`)
        .set(auth())
        .send({
          candidates: [
            { key: 'k1', decision: 'accepted' },
            { key: 'k2', decision: 'rejected', reason: 'too expensive' },
          ],
        });

      const res = await request(t.http).get(`/v1/runs/${run.id}`).set(auth());
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(run.id);
      const shape = (nodes: { name: string; children: unknown[] }[]): unknown =>
        nodes.map((n) => ({ name: n.name, children: shape(n.children as { name: string; children: unknown[] }[]) }));
      expect(shape(res.body.steps)).toEqual([
        {
          name: 'a',
          children: [
            { name: 'a1', children: [{ name: 'a1x', children: [] }] },
            { name: 'a2', children: [] },
          ],
        },
        { name: 'b', children: [] },
      ]);
      expect(res.body.steps[0].children[0].children[0].id).toBe(a1x.id);
      expect(res.body.steps[0].children[1].id).toBe(a2.id);
      expect(res.body.steps[1]).toMatchObject({ candidatesIn: 2, candidatesOut: 1, eliminationRatio: 0.5 });
      expect(res.body.steps[1]).not.toHaveProperty('candidates');
    });

    it('404s an unknown id and 400s a malformed one', async () => {
      expectError(await request(t.http).get(`/v1/runs/${randomUUID()}`).set(auth()), 404, 'RUN_NOT_FOUND');
      expectError(await request(t.http).get('/v1/runs/not-a-uuid').set(auth()), 400, 'INVALID_ID');
    });
  });

  describe('GET /v1/runs', () => {
    let listKey: string;
    const list = (query: Record<string, unknown>) =>
      request(t.http)
        .get('/v1/runs')
        .set({ Authorization: `Bearer ${listKey}` })
        .query(query);

    beforeAll(async () => {
      listKey = (await t.newProject('list')).key;
      const base = Date.parse('2026-03-01T00:00:00.000Z');
      for (let i = 0; i < 30; i++) {
        const res = await request(t.http)
          .post('/v1/runs')
          .set({ Authorization: `Bearer ${listKey}` })
          .send({
            pipeline: i % 3 === 0 ? 'alpha' : 'beta',
            status: i % 5 === 0 ? 'error' : 'success',
            tags: i % 2 === 0 ? ['even', 'all'] : ['odd', 'all'],
            // Pairs of runs share a start time so paging must break ties by id.
            startedAt: new Date(base + Math.floor(i / 2) * 60_000).toISOString(),
          });
        expect(res.status).toBe(201);
      }
    });

    it('lists newest first with the default page size', async () => {
      const res = await list({});
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(30);
      expect(res.body.nextCursor).toBeNull();
      const starts = res.body.items.map((r: { startedAt: string }) => r.startedAt);
      expect([...starts].sort().reverse()).toEqual(starts);
    });

    it('filters by pipeline, status, tags and time range', async () => {
      expect((await list({ pipeline: 'alpha' })).body.items).toHaveLength(10);
      expect((await list({ status: 'error' })).body.items).toHaveLength(6);
      expect((await list({ tag: 'even' })).body.items).toHaveLength(15);
      expect((await list({ tag: ['even', 'all'] })).body.items).toHaveLength(15);
      expect((await list({ tag: ['even', 'odd'] })).body.items).toHaveLength(0);
      const ranged = await list({ from: '2026-03-01T00:01:00.000Z', to: '2026-03-01T00:03:00.000Z' });
      expect(ranged.body.items).toHaveLength(4);
      expect((await list({ pipeline: 'alpha', status: 'error' })).body.items).toHaveLength(2);
    });

    it('pages by cursor through every run exactly once, even while new runs arrive', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await list({ limit: 7, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(7);
        seen.push(...res.body.items.map((r: { id: string }) => r.id));
        cursor = res.body.nextCursor ?? undefined;
        pages++;
        // A new run arrives between pages; it is newer than everything already listed.
        await request(t.http)
          .post('/v1/runs')
          .set({ Authorization: `Bearer ${listKey}` })
          .send({ pipeline: 'late' });
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen).toHaveLength(30);
      expect(new Set(seen).size).toBe(30);
    });

    it.each([[{ limit: 0 }], [{ limit: 201 }], [{ limit: 'ten' }], [{ status: 'bogus' }], [{ from: 'monday' }], [{ cursor: 'garbage' }], [{ other: 1 }]])(
      'rejects query %j with 400',
      async (query) => {
        expectError(await list(query), 400);
      },
    );
  });
});
