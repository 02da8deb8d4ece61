import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createTestApp, type TestApp } from './harness.js';

/**
 * Regression tests for what the reliability suites (`npm run test:reliability`) found, small
 * enough for every `npm test` run on both databases. Faults are injected with triggers that
 * raise the error PostgreSQL sends when it is shut down mid-statement (57P01).
 */
describe('faults mid-request', () => {
  let t: TestApp;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('faults')).key;
    // Candidate keys starting with "boom" make the write fail as if the database went away.
    await t.sql(`
      CREATE FUNCTION xray_test_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.key LIKE 'boom%' THEN
          RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01';
        END IF;
        RETURN NEW;
      END $$`);
    await t.sql('CREATE TRIGGER xray_test_boom BEFORE INSERT ON candidates FOR EACH ROW EXECUTE FUNCTION xray_test_boom()');
  });
  afterAll(async () => t?.close());

  const batch = (candidateKey: string) => {
    const runId = randomUUID();
    const stepId = randomUUID();
    const events = [
      { id: randomUUID(), type: 'run-create', body: { id: runId, pipeline: 'faults' } },
      { id: randomUUID(), type: 'step-create', body: { id: stepId, runId, name: 'filter' } },
      { id: randomUUID(), type: 'candidates-create', body: { stepId, candidates: [{ key: 'ok-1', decision: 'accepted' }, { key: candidateKey, decision: 'rejected', reason: 'r' }] } },
      { id: randomUUID(), type: 'step-update', body: { id: stepId, status: 'success' } },
      { id: randomUUID(), type: 'run-update', body: { id: runId, status: 'success' } },
    ];
    return { runId, stepId, events };
  };

  const stored = async (runId: string, stepId: string, eventIds: string[]) => {
    const [row] = await t.sql<{ runs: number; steps: number; candidates: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM runs WHERE id = $1) AS runs,
              (SELECT count(*)::int FROM steps WHERE id = $2) AS steps,
              (SELECT count(*)::int FROM candidates WHERE step_id = $2) AS candidates,
              (SELECT count(*)::int FROM ingest_events WHERE event_id = ANY($3::text[])) AS events`,
      [runId, stepId, eventIds],
    );
    return row;
  };

  it('an ingest batch that fails mid-way (database gone) leaves nothing behind; its retry lands whole, once', async () => {
    const { runId, stepId, events } = batch('boom-1');
    const failed = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBeDefined();
    expect(failed.body).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
    // Before the fix the run and its step were stored (the candidates statement failed after them).
    expect(await stored(runId, stepId, events.map((e) => e.id))).toEqual({ runs: 0, steps: 0, candidates: 0, events: 0 });

    // The database is back: the client's retry of the same batch lands whole.
    await t.sql('ALTER TABLE candidates DISABLE TRIGGER xray_test_boom');
    try {
      const retried = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
      expect(retried.status).toBe(207);
      expect(retried.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 200, 200]);
      const again = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
      expect(again.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 200, 200]);
    } finally {
      await t.sql('ALTER TABLE candidates ENABLE TRIGGER xray_test_boom');
    }
    expect(await stored(runId, stepId, events.map((e) => e.id))).toEqual({ runs: 1, steps: 1, candidates: 2, events: 5 });
    const [step] = await t.sql<{ stored_in: number; status: string }>('SELECT stored_in, status FROM steps WHERE id = $1', [stepId]);
    expect(step).toEqual({ stored_in: 2, status: 'success' });
  });

  it('a value only the database refuses still fails alone inside the batch transaction', async () => {
    // A NUL character passes validation but PostgreSQL cannot store it in jsonb: that event
    // fails (400) and the others of the batch land, as before the transaction.
    const { runId, stepId, events } = batch('fine-1');
    (events[2].body as { candidates: { data?: unknown }[] }).candidates[1].data = { title: 'nul \u0000 here' };
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 400, 200, 200]);
    expect(await stored(runId, stepId, [events[0].id])).toMatchObject({ runs: 1, steps: 1, candidates: 0, events: 1 });
  });
});

describe('shutdown under load', () => {
  it('app.close() ends busy keep-alive connections instead of waiting for the client to stop', async () => {
    const t = await createTestApp();
    let closed = false;
    try {
      const { key } = await t.newProject('drain');
      await t.app.listen(0, '127.0.0.1');
      const base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
      // Clients that never pause: their keep-alive connections are never idle.
      const answers: { status: number; connection: string | null }[] = [];
      let stop = false;
      const client = async () => {
        while (!stop) {
          try {
            const res = await fetch(`${base}/v1/runs?limit=1`, { headers: { authorization: `Bearer ${key}` } });
            await res.arrayBuffer();
            answers.push({ status: res.status, connection: res.headers.get('connection') });
          } catch {
            await new Promise((r) => setTimeout(r, 20)); // refused or closed: the server is going away
          }
        }
      };
      const clients = [client(), client(), client()];
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const closing = t.close().then(() => (closed = true));
      // Before the fix, close() waited for as long as the clients kept sending (here 15 s).
      const deadline = new Promise((r) => setTimeout(r, 15_000));
      await Promise.race([closing, deadline]);
      const tookMs = Date.now() - started;
      stop = true;
      await Promise.all(clients);
      await closing;
      expect(closed).toBe(true);
      expect(tookMs).toBeLessThan(10_000);
      expect(answers.length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    } finally {
      if (!closed) await t.close();
    }
  }, 60_000);
});
