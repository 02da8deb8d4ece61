import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { CandidatesRepository } from '../src/candidates/candidates.repository.js';
import type { CandidateInputDto } from '../src/candidates/candidates.dto.js';
import { createTestApp, expectError, type TestApp, usingRealPostgres } from './harness.js';

describe('steps and candidates', () => {
  let t: TestApp;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const post = (path: string, body: unknown) =>
    request(t.http)
      .post(path)
      .set(auth())
      .send(body as object);
  const newRun = async () => (await post('/v1/runs', { pipeline: 'competitor-selection' })).body as { id: string };
  const newStep = async (runId: string, body: object = {}) =>
    (await post(`/v1/runs/${runId}/steps`, { name: 'filter-by-price', type: 'filter', ...body })).body as { id: string };

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('steps')).key;
  });
  afterAll(async () => t?.close());

  describe('POST /v1/runs/:runId/steps', () => {
    it('creates a step with defaults and positions siblings in order', async () => {
      const run = await newRun();
      const first = await post(`/v1/runs/${run.id}/steps`, { name: 'keywords', input: { title: 'laptop stand' } });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({
        runId: run.id,
        parentStepId: null,
        name: 'keywords',
        type: 'custom',
        status: 'running',
        position: 0,
        input: { title: 'laptop stand' },
        candidatesIn: 0,
        candidatesOut: 0,
        eliminationRatio: null,
      });
      const second = await post(`/v1/runs/${run.id}/steps`, { name: 'search', type: 'retrieval' });
      expect(second.body.position).toBe(1);
      const child = await post(`/v1/runs/${run.id}/steps`, { name: 'query', parentStepId: second.body.id });
      expect(child.body).toMatchObject({ position: 0, parentStepId: second.body.id });
    });

    it('is idempotent by client id: 200 on replay, one row, position kept', async () => {
      const run = await newRun();
      const id = randomUUID();
      const a = await post(`/v1/runs/${run.id}/steps`, { id, name: 'rank', type: 'rank' });
      expect(a.status).toBe(201);
      const b = await post(`/v1/runs/${run.id}/steps`, { id, name: 'rank', type: 'rank', reasoning: 'by relevance' });
      expect(b.status).toBe(200);
      expect(b.body).toMatchObject({ id, position: a.body.position, reasoning: 'by relevance' });
      expect((await t.sql('SELECT count(*)::int AS n FROM steps WHERE id = $1', [id]))[0].n).toBe(1);
    });

    it('rejects a parent from another run with 400, unknown parents and runs with 404', async () => {
      const run1 = await newRun();
      const run2 = await newRun();
      const other = await newStep(run2.id);
      expectError(await post(`/v1/runs/${run1.id}/steps`, { name: 'x', parentStepId: other.id }), 400, 'PARENT_IN_OTHER_RUN');
      expectError(await post(`/v1/runs/${run1.id}/steps`, { name: 'x', parentStepId: randomUUID() }), 404, 'PARENT_STEP_NOT_FOUND');
      expectError(await post(`/v1/runs/${randomUUID()}/steps`, { name: 'x' }), 404, 'RUN_NOT_FOUND');
      const id = randomUUID();
      expectError(await post(`/v1/runs/${run1.id}/steps`, { id, name: 'x', parentStepId: id }), 400, 'INVALID_PARENT');
    });

    it('rejects an existing step id reused under another run with 409', async () => {
      const run1 = await newRun();
      const run2 = await newRun();
      const step = await newStep(run1.id);
      expectError(await post(`/v1/runs/${run2.id}/steps`, { id: step.id, name: 'x' }), 409, 'ID_CONFLICT');
    });

    it.each([
      [{}, 'name'],
      [{ name: 'x', type: 'classifier' }, 'type'],
      [{ name: 'x', status: 'done' }, 'status'],
      [{ name: 'x', parentStepId: 'abc' }, 'parentStepId'],
      [{ name: 'x', reasoning: 5 }, 'reasoning'],
      [{ name: 'x', candidatesIn: 5 }, 'candidatesIn'],
      [{ name: 'x', runId: randomUUID() }, 'runId'],
    ])('rejects %j with 400 naming %s', async (body, field) => {
      const run = await newRun();
      const error = expectError(await post(`/v1/runs/${run.id}/steps`, body), 400, 'VALIDATION_FAILED');
      expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });
  });

  describe('PATCH and GET /v1/steps/:id', () => {
    it('completes a step with output, reasoning and merged metadata', async () => {
      const run = await newRun();
      const step = await newStep(run.id, { metadata: { threshold: 50 } });
      const res = await request(t.http)
        .patch(`/v1/steps/${step.id}`)
        .set(auth())
        .send({ status: 'success', output: { kept: 3 }, reasoning: 'kept items under $50', metadata: { unit: 'USD' } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'success',
        output: { kept: 3 },
        reasoning: 'kept items under $50',
        metadata: { threshold: 50, unit: 'USD' },
      });
      expect(res.body.endedAt).not.toBeNull();
      const got = await request(t.http).get(`/v1/steps/${step.id}`).set(auth());
      expect(got.status).toBe(200);
      // getStep adds the step's own scores (none yet) to what PATCH answered.
      expect(got.body).toEqual({ ...res.body, scores: [] });
    });

    it('records a step error', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      const res = await request(t.http)
        .patch(`/v1/steps/${step.id}`)
        .set(auth())
        .send({ status: 'error', error: { message: 'LLM refused' } });
      expect(res.body).toMatchObject({ status: 'error', error: { message: 'LLM refused' } });
    });

    it('derives counts from stored candidates unless true totals are reported', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      await post(`/v1/steps/${step.id}/candidates`, {
        candidates: [
          { key: 'a', decision: 'accepted' },
          { key: 'b', decision: 'selected' },
          { key: 'c', decision: 'rejected' },
          { key: 'd', decision: 'rejected' },
        ],
      });
      let got = await request(t.http).get(`/v1/steps/${step.id}`).set(auth());
      expect(got.body).toMatchObject({ candidatesIn: 4, candidatesOut: 2, eliminationRatio: 0.5, candidatesStored: 4 });

      const patched = await request(t.http).patch(`/v1/steps/${step.id}`).set(auth()).send({ candidatesIn: 5000, candidatesOut: 50 });
      expect(patched.status).toBe(200);
      got = await request(t.http).get(`/v1/steps/${step.id}`).set(auth());
      expect(got.body).toMatchObject({ candidatesIn: 5000, candidatesOut: 50, candidatesStored: 4 });
      expect(got.body.eliminationRatio).toBeCloseTo(0.99, 10);
    });

    it('rejects negative or fractional counts and answers 404 for unknown steps', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      expectError(await request(t.http).patch(`/v1/steps/${step.id}`).set(auth()).send({ candidatesIn: -1 }), 400, 'VALIDATION_FAILED');
      expectError(await request(t.http).patch(`/v1/steps/${step.id}`).set(auth()).send({ candidatesOut: 1.5 }), 400, 'VALIDATION_FAILED');
      expectError(await request(t.http).patch(`/v1/steps/${randomUUID()}`).set(auth()).send({ status: 'success' }), 404, 'STEP_NOT_FOUND');
      expectError(await request(t.http).get(`/v1/steps/${randomUUID()}`).set(auth()), 404, 'STEP_NOT_FOUND');
      expectError(await request(t.http).get('/v1/steps/xyz').set(auth()), 400, 'INVALID_ID');
    });
  });

  describe('candidates', () => {
    const makeCandidates = (n: number, keepEvery = 10) =>
      Array.from({ length: n }, (_, i) => ({
        key: `B0${String(i).padStart(6, '0')}`,
        decision: i % keepEvery === 0 ? 'accepted' : 'rejected',
        score: i / n,
        rank: i + 1,
        reason: i % keepEvery === 0 ? undefined : i % 3 === 0 ? 'price above $50' : 'rating below 4',
        evaluations: [
          { check: 'price', passed: i % 3 !== 0, detail: `$${i % 100}` },
          { check: 'rating', passed: i % keepEvery === 0 },
        ],
        data: { title: `Item ${i}`, price: i % 100, tags: ['a', 'b'] },
      }));

    it('stores every value exactly on both write paths (a step’s first batch is loaded with COPY on PostgreSQL, later ones by statement)', async () => {
      const tricky = (suffix: string) => [
        {
          key: `back\\slash\ttab\nline\rreturn-${suffix}`,
          decision: 'rejected',
          score: 1e-7,
          rank: -3,
          reason: 'quote " and \\N and é ✓',
          evaluations: [{ check: 'c\\d', passed: false, detail: 'tab\there' }],
          data: { s: 'a\\b\n"c"', n: [1, 2.5, null, true], nested: { '': 'empty key' } },
        },
        { key: `plain-${suffix}`, decision: 'accepted', data: 'a JSON string' },
        { key: `bare-${suffix}`, decision: 'selected', data: false },
      ];
      const run = await newRun();
      const step = await newStep(run.id);
      const [{ project_id: projectId }] = await t.sql<{ project_id: string }>('SELECT project_id FROM steps WHERE id = $1', [step.id]);
      // The COPY path itself (on PostgreSQL; the embedded database always takes the statement path).
      const copied = await t.app.get(CandidatesRepository).copyFirstBatch(projectId, step.id, tricky('1') as CandidateInputDto[]);
      expect(copied).toEqual(usingRealPostgres() ? { found: true, fresh: true, stored: 3 } : { found: true, fresh: false });
      if (!usingRealPostgres()) expect((await post(`/v1/steps/${step.id}/candidates`, { candidates: tricky('1') })).status).toBe(201);
      // Not the step's first batch any more: the statement path.
      expect(await t.app.get(CandidatesRepository).copyFirstBatch(projectId, step.id, tricky('2') as CandidateInputDto[])).toEqual({
        found: true,
        fresh: false,
      });
      expect((await post(`/v1/steps/${step.id}/candidates`, { candidates: tricky('2') })).status).toBe(201);
      const res = await request(t.http).get(`/v1/steps/${step.id}/candidates?limit=10`).set(auth());
      const byKey = new Map(res.body.items.map((c: { key: string }) => [c.key, c]));
      for (const suffix of ['1', '2']) {
        for (const sent of tricky(suffix)) {
          const got = await request(t.http)
            .get(`/v1/steps/${step.id}/candidates/${encodeURIComponent(sent.key)}`)
            .set(auth());
          expect(got.body).toMatchObject({ score: null, rank: null, reason: null, evaluations: null, ...sent });
          expect(byKey.has(sent.key)).toBe(true);
        }
      }
      const detail = await request(t.http).get(`/v1/steps/${step.id}`).set(auth());
      expect(detail.body).toMatchObject({ candidatesIn: 6, candidatesOut: 4 });
    });

    it('stores 5,000 candidates in one request, and a replay updates instead of duplicating', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      const candidates = makeCandidates(5000);
      const started = Date.now();
      const res = await post(`/v1/steps/${step.id}/candidates`, { candidates });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ stored: 5000 });
      // Not a timing assertion: the benchmark measures speed. This just records it in the log.
      console.log(`5,000 candidates stored in ${elapsed} ms`);

      const replay = await post(`/v1/steps/${step.id}/candidates`, { candidates });
      expect(replay.status).toBe(201);
      const rows = await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM candidates WHERE step_id = $1', [step.id]);
      expect(rows[0].n).toBe(5000);
      const got = await request(t.http).get(`/v1/steps/${step.id}`).set(auth());
      expect(got.body).toMatchObject({ candidatesIn: 5000, candidatesOut: 500, eliminationRatio: 0.9 });
    });

    it('updates decisions on replay with changed values and keeps counts exact', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      await post(`/v1/steps/${step.id}/candidates`, {
        candidates: [
          { key: 'x', decision: 'rejected', reason: 'r1' },
          { key: 'y', decision: 'rejected' },
        ],
      });
      await post(`/v1/steps/${step.id}/candidates`, {
        candidates: [
          { key: 'x', decision: 'selected', score: 0.9 },
          { key: 'z', decision: 'accepted' },
        ],
      });
      const got = await request(t.http).get(`/v1/steps/${step.id}`).set(auth());
      expect(got.body).toMatchObject({ candidatesIn: 3, candidatesOut: 2 });
      const list = await request(t.http).get(`/v1/steps/${step.id}/candidates`).set(auth());
      expect(list.body.items.find((c: { key: string }) => c.key === 'x')).toMatchObject({ decision: 'selected', score: 0.9, reason: null });
    });

    it('writes nothing when any candidate in the batch is invalid', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      const candidates = makeCandidates(100);
      (candidates[57] as Record<string, unknown>).decision = 'maybe';
      const res = await post(`/v1/steps/${step.id}/candidates`, { candidates });
      const error = expectError(res, 400, 'VALIDATION_FAILED');
      expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'candidates.57.decision' })]));
      // A value only the database refuses (a NUL character in JSON) also rolls back the whole batch.
      const poisoned = makeCandidates(100);
      poisoned[99].data = { title: 'bad \u0000 byte', price: 1, tags: [] };
      expectError(await post(`/v1/steps/${step.id}/candidates`, { candidates: poisoned }), 400, 'INVALID_VALUE');
      expect((await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM candidates WHERE step_id = $1', [step.id]))[0].n).toBe(0);
      expect((await request(t.http).get(`/v1/steps/${step.id}`).set(auth())).body.candidatesIn).toBe(0);
    });

    it('rejects duplicate keys within one request, empty batches and malformed evaluations', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      expectError(
        await post(`/v1/steps/${step.id}/candidates`, {
          candidates: [
            { key: 'a', decision: 'accepted' },
            { key: 'a', decision: 'rejected' },
          ],
        }),
        400,
        'DUPLICATE_CANDIDATE_KEY',
      );
      expectError(await post(`/v1/steps/${step.id}/candidates`, { candidates: [] }), 400, 'VALIDATION_FAILED');
      expectError(await post(`/v1/steps/${step.id}/candidates`, {}), 400, 'VALIDATION_FAILED');
      expectError(
        await post(`/v1/steps/${step.id}/candidates`, { candidates: [{ key: 'a', decision: 'accepted', evaluations: [{ check: 'price' }] }] }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(await post(`/v1/steps/${step.id}/candidates`, { candidates: [{ key: 'a', decision: 'accepted', score: 'high' }] }), 400);
      expectError(await post(`/v1/steps/${randomUUID()}/candidates`, { candidates: [{ key: 'a', decision: 'accepted' }] }), 404, 'STEP_NOT_FOUND');
    });

    it('lists candidates with filters and pages through all of them by cursor', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      await post(`/v1/steps/${step.id}/candidates`, { candidates: makeCandidates(250) });
      const seen = new Set<string>();
      let cursor: string | undefined;
      do {
        const res = await request(t.http)
          .get(`/v1/steps/${step.id}/candidates`)
          .set(auth())
          .query({ limit: 40, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        for (const c of res.body.items) seen.add(c.key);
        cursor = res.body.nextCursor ?? undefined;
      } while (cursor);
      expect(seen.size).toBe(250);

      const accepted = await request(t.http).get(`/v1/steps/${step.id}/candidates`).set(auth()).query({ decision: 'accepted', limit: 1000 });
      expect(accepted.body.items).toHaveLength(25);
      expect(accepted.body.items[0]).toMatchObject({
        key: 'B0000000',
        decision: 'accepted',
        evaluations: [
          { check: 'price', passed: false, detail: '$0' },
          { check: 'rating', passed: true },
        ],
        data: { title: 'Item 0', price: 0, tags: ['a', 'b'] },
      });
      const byReason = await request(t.http).get(`/v1/steps/${step.id}/candidates`).set(auth()).query({ reason: 'price above $50', limit: 1000 });
      expect(byReason.body.items.every((c: { reason: string }) => c.reason === 'price above $50')).toBe(true);
      expect(byReason.body.items.length).toBe(75);

      expectError(await request(t.http).get(`/v1/steps/${step.id}/candidates`).set(auth()).query({ limit: 1001 }), 400);
      expectError(await request(t.http).get(`/v1/steps/${step.id}/candidates`).set(auth()).query({ decision: 'maybe' }), 400);
      expectError(await request(t.http).get(`/v1/steps/${step.id}/candidates`).set(auth()).query({ cursor: 'WzFd' }), 400, 'INVALID_CURSOR');
      expectError(await request(t.http).get(`/v1/steps/${randomUUID()}/candidates`).set(auth()), 404, 'STEP_NOT_FOUND');
    });

    it('summarises a step: totals by decision and reasons most frequent first', async () => {
      const run = await newRun();
      const step = await newStep(run.id);
      await post(`/v1/steps/${step.id}/candidates`, {
        candidates: [
          { key: '1', decision: 'selected' },
          { key: '2', decision: 'accepted' },
          { key: '3', decision: 'rejected', reason: 'price above $50' },
          { key: '4', decision: 'rejected', reason: 'price above $50' },
          { key: '5', decision: 'rejected', reason: 'price above $50' },
          { key: '6', decision: 'rejected', reason: 'wrong category' },
        ],
      });
      const res = await request(t.http).get(`/v1/steps/${step.id}/candidates/summary`).set(auth());
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        total: 6,
        byDecision: { accepted: 1, rejected: 4, selected: 1 },
        reasons: [
          { reason: 'price above $50', count: 3 },
          { reason: 'wrong category', count: 1 },
        ],
      });
      expectError(await request(t.http).get(`/v1/steps/${randomUUID()}/candidates/summary`).set(auth()), 404, 'STEP_NOT_FOUND');
    });
  });

  describe('candidate limit', () => {
    let small: TestApp;
    beforeAll(async () => {
      small = await createTestApp({ XRAY_MAX_CANDIDATES_PER_REQUEST: '10' });
    });
    afterAll(async () => small?.close());

    it('answers 413 naming the limit past XRAY_MAX_CANDIDATES_PER_REQUEST', async () => {
      const { key: k } = await small.newProject();
      const run = (
        await request(small.http)
          .post('/v1/runs')
          .set({ Authorization: `Bearer ${k}` })
          .send({ pipeline: 'p' })
      ).body;
      const step = (
        await request(small.http)
          .post(`/v1/runs/${run.id}/steps`)
          .set({ Authorization: `Bearer ${k}` })
          .send({ name: 's' })
      ).body;
      const candidates = Array.from({ length: 11 }, (_, i) => ({ key: `k${i}`, decision: 'accepted' }));
      const res = await request(small.http)
        .post(`/v1/steps/${step.id}/candidates`)
        .set({ Authorization: `Bearer ${k}` })
        .send({ candidates });
      const error = expectError(res, 413, 'TOO_MANY_CANDIDATES');
      expect(error.message).toContain('10');
      const ok = await request(small.http)
        .post(`/v1/steps/${step.id}/candidates`)
        .set({ Authorization: `Bearer ${k}` })
        .send({ candidates: candidates.slice(0, 10) });
      expect(ok.status).toBe(201);
    });
  });
});
