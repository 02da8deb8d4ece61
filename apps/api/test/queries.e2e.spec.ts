import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { RunTimeoutSweeper } from '../src/maintenance/run-timeout.sweeper.js';
import { createTestApp, expectError, type TestApp } from './harness.js';

/**
 * Data built to have one right answer: 12 competitor-selection runs on 2026-04-01, one every
 * hour from 00:00. Each has search → filter-by-price (100 candidates) → rank. In runs 0, 3, 6
 * and 9 the filter keeps 5 (ratio 0.95); in the others it keeps 50 (0.5). Product B0XYZ is
 * rejected for price in runs 0–7 and accepted by the filter in runs 8–11, where rank rejects
 * it. Runs 2 and 5 fail with a TimeoutError; run 11 is still running. Step durations: search
 * takes (i+1)·100 ms.
 */
describe('cross-run queries', () => {
  let t: TestApp;
  let key: string;
  let otherKey: string;
  const runIds: string[] = [];
  const filterIds: string[] = [];
  const base = Date.parse('2026-04-01T00:00:00.000Z');
  const at = (ms: number) => new Date(base + ms).toISOString();
  const get = (path: string, query: Record<string, unknown> = {}, k = key) => request(t.http).get(path).set('Authorization', `Bearer ${k}`).query(query);

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('queries')).key;
    otherKey = (await t.newProject('others')).key;
    const events: unknown[] = [];
    const ev = (type: string, body: Record<string, unknown>, timestamp?: string) => events.push({ id: randomUUID(), type, body, timestamp });
    for (let i = 0; i < 12; i++) {
      const runId = randomUUID();
      const search = randomUUID();
      const filter = randomUUID();
      const rank = randomUUID();
      runIds.push(runId);
      filterIds.push(filter);
      const start = i * 3_600_000;
      ev('run-create', {
        id: runId,
        pipeline: 'competitor-selection',
        startedAt: at(start),
        metadata: { customer: i % 2 ? 'acme' : 'globex', shard: String(i % 3) },
      });
      ev('step-create', { id: search, runId, name: 'search', type: 'retrieval', startedAt: at(start) });
      ev('step-update', { id: search, status: 'success', endedAt: at(start + (i + 1) * 100) });
      ev('step-create', { id: filter, runId, name: 'filter-by-price', type: 'filter', startedAt: at(start + 2000) });
      const keep = i % 3 === 0 ? 5 : 50;
      const candidates = Array.from({ length: 99 }, (_, j) => ({
        key: `P${j}`,
        decision: j < keep - (i >= 8 ? 1 : 0) ? 'accepted' : 'rejected',
        reason: j < keep - (i >= 8 ? 1 : 0) ? undefined : j % 2 ? 'price above $50' : 'rating below 4',
      }));
      candidates.push(i >= 8 ? { key: 'B0XYZ', decision: 'accepted', reason: undefined } : { key: 'B0XYZ', decision: 'rejected', reason: 'price above $50' });
      ev('candidates-create', { stepId: filter, candidates });
      ev('step-update', { id: filter, status: 'success', endedAt: at(start + 2500) });
      ev('step-create', { id: rank, runId, name: 'rank', type: 'rank', startedAt: at(start + 3000) });
      if (i >= 8)
        ev('candidates-create', {
          stepId: rank,
          candidates: [
            { key: 'B0XYZ', decision: 'rejected', reason: 'low relevance' },
            { key: 'P0', decision: 'selected', score: 0.9 },
          ],
        });
      if (i === 2 || i === 5) {
        ev('step-update', { id: rank, status: 'error', error: { type: 'TimeoutError', message: 'ranker timed out' }, endedAt: at(start + 4000) });
        ev('run-update', { id: runId, status: 'error', error: { type: 'TimeoutError', message: 'ranker timed out' }, endedAt: at(start + 4000) });
      } else if (i !== 11) {
        ev('step-update', { id: rank, status: 'success', endedAt: at(start + 3500) });
        ev('run-update', { id: runId, status: 'success', endedAt: at(start + 5000 + i * 1000) });
      }
    }
    const res = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events });
    expect(res.status).toBe(207);
    expect(res.body.results.filter((r: { status: number }) => r.status >= 300)).toEqual([]);
    // Another project with look-alike data that must never show up.
    const foreign = await request(t.http)
      .post('/v1/runs')
      .set('Authorization', `Bearer ${otherKey}`)
      .send({ pipeline: 'competitor-selection', startedAt: at(0) });
    const fstep = await request(t.http)
      .post(`/v1/runs/${foreign.body.id}/steps`)
      .set('Authorization', `Bearer ${otherKey}`)
      .send({ name: 'filter-by-price', type: 'filter', startedAt: at(1) });
    await request(t.http)
      .post(`/v1/steps/${fstep.body.id}/candidates`)
      .set('Authorization', `Bearer ${otherKey}`)
      .send({
        candidates: [
          { key: 'B0XYZ', decision: 'rejected', reason: 'foreign' },
          ...Array.from({ length: 30 }, (_, j) => ({ key: `F${j}`, decision: 'rejected' })),
        ],
      });
  });
  afterAll(async () => t?.close());

  describe('GET /v1/steps', () => {
    it('finds exactly the runs whose price filter dropped more than 90%', async () => {
      const res = await get('/v1/steps', { name: 'filter-by-price', minEliminationRatio: 0.9 });
      expect(res.status).toBe(200);
      expect(res.body.items.map((s: { runId: string }) => s.runId)).toEqual([9, 6, 3, 0].map((i) => runIds[i]));
      expect(res.body.items[0]).toMatchObject({
        id: filterIds[9],
        pipeline: 'competitor-selection',
        name: 'filter-by-price',
        type: 'filter',
        candidatesIn: 100,
        candidatesOut: 5,
        eliminationRatio: 0.95,
        durationMs: 500,
      });
    });

    it('filters by ratio range, type, status, duration, pipeline and time, and pages by cursor', async () => {
      expect((await get('/v1/steps', { name: 'filter-by-price', maxEliminationRatio: 0.9 })).body.items).toHaveLength(8);
      expect((await get('/v1/steps', { type: 'rank', status: 'error' })).body.items).toHaveLength(2);
      expect((await get('/v1/steps', { name: 'search', minDurationMs: 1000 })).body.items).toHaveLength(3);
      expect((await get('/v1/steps', { pipeline: 'nope' })).body.items).toHaveLength(0);
      expect((await get('/v1/steps', { name: 'search', from: at(3_600_000), to: at(3 * 3_600_000) })).body.items).toHaveLength(2);
      const seen = new Set<string>();
      let cursor: string | undefined;
      do {
        const res = await get('/v1/steps', { pipeline: 'competitor-selection', limit: 5, ...(cursor ? { cursor } : {}) });
        for (const s of res.body.items) seen.add(s.id);
        cursor = res.body.nextCursor ?? undefined;
      } while (cursor);
      expect(seen.size).toBe(36);
      expectError(await get('/v1/steps', { minEliminationRatio: 1.5 }), 400);
      expectError(await get('/v1/steps', { minEliminationRatio: 0.9, maxEliminationRatio: 0.1 }), 400);
      expectError(await get('/v1/steps', { type: 'wizard' }), 400);
    });

    it('never shows another project’s steps', async () => {
      const theirs = await get('/v1/steps', { name: 'filter-by-price' }, otherKey);
      expect(theirs.body.items).toHaveLength(1);
      expect(theirs.body.items[0].runId).not.toBe(runIds[0]);
      expect((await get('/v1/steps', { name: 'filter-by-price' })).body.items).toHaveLength(12);
    });
  });

  describe('GET /v1/candidates (lineage)', () => {
    it('answers "why was B0XYZ never selected?" in one call', async () => {
      const res = await get('/v1/candidates', { key: 'B0XYZ' });
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(16);
      expect(res.body.items.some((e: { decision: string }) => e.decision === 'selected')).toBe(false);
      const rejections = res.body.items.filter((e: { decision: string }) => e.decision === 'rejected');
      const byStep = rejections.reduce((acc: Record<string, number>, e: { stepName: string; reason: string }) => {
        acc[`${e.stepName}: ${e.reason}`] = (acc[`${e.stepName}: ${e.reason}`] ?? 0) + 1;
        return acc;
      }, {});
      expect(byStep).toEqual({ 'filter-by-price: price above $50': 8, 'rank: low relevance': 4 });
      expect(res.body.items[0]).toMatchObject({ key: 'B0XYZ', pipeline: 'competitor-selection', runId: expect.any(String), stepId: expect.any(String) });
    });

    it('filters by decision and pipeline and pages by cursor', async () => {
      expect((await get('/v1/candidates', { key: 'B0XYZ', decision: 'accepted' })).body.items).toHaveLength(4);
      expect((await get('/v1/candidates', { key: 'B0XYZ', pipeline: 'other' })).body.items).toHaveLength(0);
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await get('/v1/candidates', { key: 'B0XYZ', limit: 3, ...(cursor ? { cursor } : {}) });
        ids.push(...res.body.items.map((e: { stepId: string; runId: string }) => `${e.stepId}`));
        cursor = res.body.nextCursor ?? undefined;
      } while (cursor);
      expect(ids).toHaveLength(16);
      expectError(await get('/v1/candidates', {}), 400);
    });

    it('never shows another project’s evaluations', async () => {
      const theirs = await get('/v1/candidates', { key: 'B0XYZ' }, otherKey);
      expect(theirs.body.items.map((e: { reason: string }) => e.reason)).toEqual(['foreign']);
    });
  });

  describe('GET /v1/runs/:id/compare/:otherId', () => {
    it('aligns steps by path and reports differences and flipped candidates', async () => {
      const res = await get(`/v1/runs/${runIds[0]}/compare/${runIds[2]}`);
      expect(res.status).toBe(200);
      expect(res.body.left.id).toBe(runIds[0]);
      expect(res.body.right.id).toBe(runIds[2]);
      expect(res.body.steps.map((s: { path: string[] }) => s.path)).toEqual([['search'], ['filter-by-price'], ['rank']]);
      const [search, filter, rank] = res.body.steps;
      expect(search.differences).toEqual({ durationMs: { left: 100, right: 300 } });
      expect(filter.differences).toEqual({ candidatesOut: { left: 5, right: 50 } });
      expect(filter.candidates.keptRightRejectedLeftCount).toBe(45);
      expect(filter.candidates.keptLeftRejectedRight).toEqual([]);
      expect(rank.differences.status).toEqual({ left: 'success', right: 'error' });
      expect(rank.candidates).toBeNull();
    });

    it('reports steps only one side has', async () => {
      const extra = (await request(t.http).post(`/v1/runs/${runIds[1]}/steps`).set('Authorization', `Bearer ${key}`).send({ name: 'explain' })).body;
      const res = await get(`/v1/runs/${runIds[0]}/compare/${runIds[1]}`);
      const last = res.body.steps[res.body.steps.length - 1];
      expect(last).toMatchObject({ path: ['explain'], left: null, right: { id: extra.id } });
    });

    it('answers 404 for an unknown or foreign run and 400 for a malformed id', async () => {
      expectError(await get(`/v1/runs/${runIds[0]}/compare/${randomUUID()}`), 404, 'RUN_NOT_FOUND');
      expectError(await get(`/v1/runs/${runIds[0]}/compare/${runIds[1]}`, {}, otherKey), 404, 'RUN_NOT_FOUND');
      expectError(await get(`/v1/runs/${runIds[0]}/compare/nope`), 400, 'INVALID_ID');
    });
  });

  describe('GET /v1/analytics/pipelines/:pipeline', () => {
    it('summarises runs, steps, rejection reasons and a time series', async () => {
      const res = await get('/v1/analytics/pipelines/competitor-selection', { from: at(0), to: at(24 * 3_600_000) });
      expect(res.status).toBe(200);
      expect(res.body.runs).toEqual({
        total: 12,
        byStatus: { running: 1, success: 9, error: 2, cancelled: 0, timed_out: 0 },
        errorRate: 2 / 11,
      });
      const search = res.body.steps.find((s: { name: string }) => s.name === 'search');
      // Durations 100..1200 ms: exact p50 is 650 and p95 1145. Percentiles come from log-scale
      // histograms with 10%-wide buckets, so they are within 10% of the exact values.
      expect(search).toMatchObject({ count: 12, errorRate: 0, meanEliminationRatio: null });
      expect(Math.abs(search.p50DurationMs - 650) / 650).toBeLessThan(0.1);
      expect(Math.abs(search.p95DurationMs - 1145) / 1145).toBeLessThan(0.1);
      const filter = res.body.steps.find((s: { name: string }) => s.name === 'filter-by-price');
      expect(filter.meanEliminationRatio).toBeCloseTo((4 * 0.95 + 8 * 0.5) / 12, 10);
      const rank = res.body.steps.find((s: { name: string }) => s.name === 'rank');
      expect(rank.errorRate).toBeCloseTo(2 / 11, 10);
      expect(res.body.topRejectionReasons).toEqual([
        {
          stepName: 'filter-by-price',
          // 4 runs × 95 rejections + 8 runs × 50: split between two reasons, B0XYZ adds 8 price rejections.
          reasons: [
            { reason: 'price above $50', count: expect.any(Number) },
            { reason: 'rating below 4', count: expect.any(Number) },
          ],
        },
      ]);
      const [price, rating] = res.body.topRejectionReasons[0].reasons;
      expect(price.count + rating.count).toBe(4 * 95 + 8 * 50);
      expect(res.body.timeSeries.bucket).toBe('hour');
      expect(res.body.timeSeries.points).toHaveLength(24);
      expect(res.body.timeSeries.points.slice(0, 12).every((p: { runs: number }) => p.runs === 1)).toBe(true);
      expect(res.body.timeSeries.points[2]).toEqual({
        start: at(2 * 3_600_000),
        runs: 1,
        errors: 1,
        byStatus: { running: 0, success: 0, error: 1, cancelled: 0, timed_out: 0 },
      });
      expect(res.body.timeSeries.points.slice(12).every((p: { runs: number }) => p.runs === 0)).toBe(true);
    });

    it('uses day buckets for long ranges, rejects bad ranges and isolates projects', async () => {
      const week = await get('/v1/analytics/pipelines/competitor-selection', { from: at(-3 * 86_400_000), to: at(4 * 86_400_000) });
      expect(week.body.timeSeries.bucket).toBe('day');
      expect(week.body.timeSeries.points).toHaveLength(7);
      expect(week.body.timeSeries.points[3]).toMatchObject({ start: at(0), runs: 12, errors: 2 });
      expectError(await get('/v1/analytics/pipelines/competitor-selection', { from: at(10), to: at(0) }), 400, 'INVALID_RANGE');
      const theirs = await get('/v1/analytics/pipelines/competitor-selection', { from: at(0), to: at(86_400_000) }, otherKey);
      expect(theirs.body.runs.total).toBe(1);
      expect(theirs.body.topRejectionReasons).toEqual([{ stepName: 'filter-by-price', reasons: [{ reason: 'foreign', count: 1 }] }]);
    });
  });

  describe('rejection reason counts', () => {
    it('stay exact when a replay changes decisions and reasons', async () => {
      const run = (await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${key}`).send({ pipeline: 'reasons-replay' })).body;
      const step = (await request(t.http).post(`/v1/runs/${run.id}/steps`).set('Authorization', `Bearer ${key}`).send({ name: 'f', type: 'filter' })).body;
      const send = (candidates: object[]) => request(t.http).post(`/v1/steps/${step.id}/candidates`).set('Authorization', `Bearer ${key}`).send({ candidates });
      await send([
        { key: 'a', decision: 'rejected', reason: 'r1' },
        { key: 'b', decision: 'rejected', reason: 'r1' },
        { key: 'c', decision: 'rejected', reason: 'r2' },
      ]);
      await send([
        { key: 'a', decision: 'accepted' },
        { key: 'b', decision: 'rejected', reason: 'r2' },
      ]);
      await send([{ key: 'c', decision: 'rejected', reason: 'r2' }]);
      const res = await get('/v1/analytics/pipelines/reasons-replay', {
        from: new Date(Date.now() - 3_600_000).toISOString(),
        to: new Date(Date.now() + 60_000).toISOString(),
      });
      expect(res.body.topRejectionReasons).toEqual([{ stepName: 'f', reasons: [{ reason: 'r2', count: 2 }] }]);
      const summary = (await get(`/v1/steps/${step.id}/candidates/summary`)).body;
      expect(summary.reasons).toEqual([{ reason: 'r2', count: 2 }]);
    });
  });

  describe('GET /v1/runs filters', () => {
    it('filters by minimum duration, error type, metadata and text', async () => {
      const ids = (res: request.Response) => res.body.items.map((r: { id: string }) => r.id).sort();
      // Run i (finished successfully) lasts 5 + i seconds; failed runs last 4 s.
      expect(ids(await get('/v1/runs', { minDurationMs: 13_000 }))).toEqual([runIds[8], runIds[9], runIds[10]].sort());
      expect(ids(await get('/v1/runs', { errorType: 'TimeoutError' }))).toEqual([runIds[2], runIds[5]].sort());
      expect((await get('/v1/runs', { 'metadata.customer': 'acme' })).body.items).toHaveLength(6);
      expect(ids(await get('/v1/runs', { 'metadata.customer': 'acme', 'metadata.shard': '0' }))).toEqual([runIds[3], runIds[9]].sort());
      expect(ids(await get('/v1/runs', { q: 'ranker timed' }))).toEqual([runIds[2], runIds[5]].sort());
      expect((await get('/v1/runs', { q: 'competitor' })).body.items).toHaveLength(12);
      expect((await get('/v1/runs', { q: 'explai' })).body.items.map((r: { id: string }) => r.id)).toEqual([runIds[1]]);
      expect((await get('/v1/runs', { q: "'; drop table runs; --" })).status).toBe(200);
      expect((await get('/v1/runs', { q: 'competitor' }, otherKey)).body.items).toHaveLength(1);
      expectError(await get('/v1/runs', { minDurationMs: -1 }), 400);
      expectError(await get('/v1/runs', { unknown: 'x' }), 400);
    });
  });

  describe('run timeout sweep', () => {
    it('marks runs running past XRAY_RUN_TIMEOUT as timed_out, with their open steps', async () => {
      const stale = (
        await request(t.http)
          .post('/v1/runs')
          .set('Authorization', `Bearer ${key}`)
          .send({ pipeline: 'stuck', startedAt: new Date(Date.now() - 2 * 86_400_000).toISOString() })
      ).body;
      const openStep = (
        await request(t.http).post(`/v1/runs/${stale.id}/steps`).set('Authorization', `Bearer ${key}`).send({ name: 'hang', startedAt: stale.startedAt })
      ).body;
      const doneStep = (
        await request(t.http)
          .post(`/v1/runs/${stale.id}/steps`)
          .set('Authorization', `Bearer ${key}`)
          .send({ name: 'ok', status: 'success', startedAt: stale.startedAt })
      ).body;
      const fresh = (await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${key}`).send({ pipeline: 'stuck' })).body;
      // Another project's stale run: the sweep goes project by project, and takes every one.
      const other = await t.newProject('sweep-other');
      const otherStale = (
        await request(t.http)
          .post('/v1/runs')
          .set('Authorization', `Bearer ${other.key}`)
          .send({ pipeline: 'stuck', startedAt: new Date(Date.now() - 2 * 86_400_000).toISOString() })
      ).body;

      const result = await t.app.get(RunTimeoutSweeper).sweepOnce();
      expect(result).toMatchObject({ runs: expect.any(Number), steps: expect.any(Number) });
      expect(result!.runs).toBeGreaterThanOrEqual(2);
      const otherRun = await request(t.http).get(`/v1/runs/${otherStale.id}`).set('Authorization', `Bearer ${other.key}`);
      expect(otherRun.body).toMatchObject({ status: 'timed_out', error: { type: 'Timeout' } });
      const run = (await get(`/v1/runs/${stale.id}`)).body;
      expect(run).toMatchObject({ status: 'timed_out', error: { type: 'Timeout' } });
      expect(run.endedAt).not.toBeNull();
      expect(run.steps.find((s: { id: string }) => s.id === openStep.id).status).toBe('timed_out');
      expect(run.steps.find((s: { id: string }) => s.id === doneStep.id).status).toBe('success');
      expect((await get(`/v1/runs/${fresh.id}`)).body.status).toBe('running');
      expect((await get('/v1/runs', { status: 'timed_out' })).body.items.map((r: { id: string }) => r.id)).toContain(stale.id);
    });
  });
});
