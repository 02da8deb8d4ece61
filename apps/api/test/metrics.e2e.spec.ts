import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { RunTimeoutSweeper } from '../src/maintenance/run-timeout.sweeper.js';
import { createTestApp, triggerDdl, expectError, type TestApp } from './harness.js';

/** The value of one sample line (`name{labels} value`) of a Prometheus text page, or undefined. */
function sample(page: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of page.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2] ? match[2].split(/,(?=\w+=")/) : [];
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  it('is not served unless XRAY_METRICS or XRAY_METRICS_TOKEN is set', async () => {
    const t = await createTestApp();
    try {
      expectError(await request(t.http).get('/metrics'), 404);
      const spec = await request(t.http).get('/docs-json');
      expect(Object.keys(spec.body.paths)).not.toContain('/metrics');
    } finally {
      await t.close();
    }
  });

  describe('with XRAY_METRICS=true', () => {
    let t: TestApp;
    let key: string;
    beforeAll(async () => {
      t = await createTestApp({ XRAY_METRICS: 'true' });
      key = (await t.newProject('metrics')).key;
    });
    afterAll(() => t.close());
    const as = () => ({ Authorization: `Bearer ${key}` });

    it('counts requests by route template and status, ingest outcomes, candidates, timeouts, the pool and the sweeper', async () => {
      const run = await request(t.http).post('/v1/runs').set(as()).send({ pipeline: 'competitor-selection' });
      expect(run.status).toBe(201);
      const step = await request(t.http).post(`/v1/runs/${run.body.id}/steps`).set(as()).send({ name: 'filter-by-price', type: 'filter' });
      expect(step.status).toBe(201);
      for (let i = 0; i < 2; i++) expect((await request(t.http).get(`/v1/runs/${run.body.id}`).set(as())).status).toBe(200);
      expectError(await request(t.http).get(`/v1/runs/${randomUUID()}`).set(as()), 404);
      expectError(await request(t.http).get('/no/such/path'), 404);
      const stored = await request(t.http)
        .post(`/v1/steps/${step.body.id}/candidates`)
        .set(as())
        .send({
          candidates: [
            { key: 'B0AAA', decision: 'accepted' },
            { key: 'B0XYZ', decision: 'rejected', reason: 'price above $50' },
            { key: 'B0QQQ', decision: 'selected' },
          ],
        });
      expect(stored.status).toBe(201);

      const runId = randomUUID();
      const batch = await request(t.http)
        .post('/v1/ingest')
        .set(as())
        .send({
          events: [
            { id: randomUUID(), type: 'run-create', body: { id: runId, pipeline: 'competitor-selection' } },
            {
              id: randomUUID(),
              type: 'candidates-create',
              body: {
                stepId: step.body.id,
                candidates: [
                  { key: 'B0CCC', decision: 'accepted' },
                  { key: 'B0DDD', decision: 'rejected', reason: 'rating below 4' },
                ],
              },
            },
            { id: randomUUID(), type: 'run-create', body: { pipeline: 'no-client-id' } },
            { id: randomUUID(), type: 'step-update', body: { id: randomUUID(), status: 'success' } },
          ],
        });
      expect(batch.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 400, 404]);
      const codes = batch.body.results.slice(2).map((r: { error: { error: string } }) => r.error.error);

      // A statement PostgreSQL cancels for its statement timeout fails with SQLSTATE 57014. The
      // embedded database cannot time statements out, so the same error is raised by a trigger
      // on both databases: what is tested is that such an answer is counted.
      await t.sql(`CREATE FUNCTION xray_test_cancel() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN IF NEW.pipeline = 'slow' THEN RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = 'query_canceled'; END IF; RETURN NEW; END $$`);
      await triggerDdl(t, `CREATE TRIGGER xray_test_cancel BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION xray_test_cancel()`);
      try {
        expectError(await request(t.http).post('/v1/runs').set(as()).send({ pipeline: 'slow' }), 503, 'STATEMENT_TIMEOUT');
      } finally {
        await triggerDdl(t, 'DROP TRIGGER xray_test_cancel ON runs');
        await t.sql('DROP FUNCTION xray_test_cancel()');
      }

      const before = Date.now() / 1000;
      expect(await t.app.get(RunTimeoutSweeper).sweepOnce()).not.toBeNull();

      const res = await request(t.http).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      const page = res.text;

      const get = { method: 'GET', route: '/v1/runs/:id' };
      expect(sample(page, 'xray_http_requests_total', { ...get, status: '200' })).toBe(2);
      expect(sample(page, 'xray_http_requests_total', { ...get, status: '404' })).toBe(1);
      expect(sample(page, 'xray_http_requests_total', { method: 'POST', route: '/v1/runs', status: '201' })).toBe(1);
      expect(sample(page, 'xray_http_requests_total', { method: 'POST', route: '/v1/runs', status: '503' })).toBe(1);
      expect(sample(page, 'xray_http_requests_total', { method: 'POST', route: '/v1/ingest', status: '207' })).toBe(1);
      expect(sample(page, 'xray_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1);
      expect(sample(page, 'xray_http_request_duration_seconds_count', { ...get, status: '200' })).toBe(2);
      expect(sample(page, 'xray_http_request_duration_seconds_bucket', { ...get, status: '200', le: '+Inf' })).toBe(2);
      const sum = sample(page, 'xray_http_request_duration_seconds_sum', { ...get, status: '200' })!;
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(30);
      const buckets = page
        .split('\n')
        .filter((l) => l.startsWith('xray_http_request_duration_seconds_bucket{') && l.includes('route="/v1/runs/:id"') && l.includes('status="200"'));
      const counts = buckets.map((l) => Number(l.split(' ')[1]));
      expect(counts).toEqual([...counts].sort((a, b) => a - b)); // cumulative
      expect(buckets).toHaveLength(13);

      expect(sample(page, 'xray_ingest_events_total', { type: 'run-create' })).toBe(1);
      expect(sample(page, 'xray_ingest_events_total', { type: 'candidates-create' })).toBe(1);
      expect(codes).toEqual(['VALIDATION_FAILED', expect.stringMatching(/_NOT_FOUND$/)]);
      for (const code of codes) expect(sample(page, 'xray_ingest_events_rejected_total', { code })).toBe(1);
      expect(sample(page, 'xray_candidates_written_total', { via: 'candidates' })).toBe(3);
      expect(sample(page, 'xray_candidates_written_total', { via: 'ingest' })).toBe(2);
      expect(sample(page, 'xray_db_statement_timeouts_total')).toBe(1);

      const total = sample(page, 'xray_db_pool_connections')!;
      const idle = sample(page, 'xray_db_pool_idle_connections')!;
      expect(total).toBeGreaterThanOrEqual(1);
      expect(total).toBeLessThanOrEqual(t.config.dbPoolSize);
      expect(idle).toBeGreaterThanOrEqual(0);
      expect(idle).toBeLessThanOrEqual(total);
      expect(sample(page, 'xray_db_pool_waiting_requests')).toBe(0);
      const lastSweep = sample(page, 'xray_sweeper_last_run_timestamp_seconds')!;
      expect(lastSweep).toBeGreaterThanOrEqual(Math.floor(before));
      expect(lastSweep).toBeLessThanOrEqual(Date.now() / 1000);
      expect(sample(page, 'process_cpu_seconds_total')).toBeGreaterThan(0);

      // No key, project or path value ever becomes a label.
      expect(page).not.toContain(key);
      expect(page).not.toContain(run.body.id);
      expect(page).not.toContain('/no/such/path');
    });

    it('stays out of the OpenAPI document and needs no API key', async () => {
      const spec = await request(t.http).get('/docs-json');
      expect(Object.keys(spec.body.paths).filter((p) => p.includes('metrics'))).toEqual([]);
      expect((await request(t.http).get('/metrics').set('Authorization', 'Bearer xr_not_a_key')).status).toBe(200);
    });
  });

  it('with XRAY_METRICS_TOKEN, answers only a scrape that sends the token', async () => {
    const token = `metrics-${randomUUID()}`;
    const t = await createTestApp({ XRAY_METRICS_TOKEN: token });
    try {
      const project = await t.newProject('scraper');
      for (const auth of [undefined, 'Bearer wrong-token-0123456789', `Bearer ${project.key}`, `Bearer ${t.rootKey}`, token]) {
        const req = request(t.http).get('/metrics');
        const res = await (auth ? req.set('Authorization', auth) : req);
        expectError(res, 401, 'UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
        expect(res.text).not.toContain('xray_http_requests_total');
      }
      const ok = await request(t.http).get('/metrics').set('Authorization', `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(sample(ok.text, 'xray_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBe(5);
    } finally {
      await t.close();
    }
  });
});
