import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, connect, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { type DataSource, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { describeError } from '../src/common/describe-error.js';
import { createDataSource } from '../src/database/data-source.js';
import { createTestApp, triggerDdl, type TestApp } from './harness.js';

/**
 * A TCP proxy in front of the database that can stop passing bytes: a database that hangs
 * (stalled host, network partition) without closing anything.
 */
class FreezableProxy {
  private sockets: Socket[] = [];
  private frozen = false;
  private constructor(private readonly server: Server) {}

  static async start(target: URL): Promise<FreezableProxy> {
    const server = createServer();
    const proxy = new FreezableProxy(server);
    server.on('connection', (client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => b.destroy());
      }
      proxy.sockets.push(client, upstream);
      if (proxy.frozen) proxy.freeze();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return proxy;
  }

  url(database: URL): string {
    const url = new URL(database);
    url.hostname = '127.0.0.1';
    url.port = String((this.server.address() as AddressInfo).port);
    return url.toString();
  }

  freeze(): void {
    this.frozen = true;
    for (const s of this.sockets) s.pause();
  }

  thaw(): void {
    this.frozen = false;
    for (const s of this.sockets) s.resume();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * Regression tests for what the reliability suites (`npm run test:reliability`) found, small
 * enough for every `npm test` run on both databases. One app (one database boot) serves them all;
 * the last test closes it. Its faults come from triggers on the tables (on a Citus coordinator
 * they run on the workers' shards) and a proxy in front of the database.
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
    await triggerDdl(t, 'CREATE TRIGGER xray_test_boom BEFORE INSERT ON candidates FOR EACH ROW EXECUTE FUNCTION xray_test_boom()');
  });
  let closed = false;
  let proxy: FreezableProxy | undefined;
  let ds: DataSource | undefined;

  afterAll(async () => {
    proxy?.thaw();
    if (ds?.isInitialized) await ds.destroy();
    await proxy?.close();
    if (!closed) await t?.close();
  });

  // A trigger raises what PostgreSQL sends when it is shut down mid-statement (57P01).

  const batch = (candidateKey: string) => {
    const runId = randomUUID();
    const stepId = randomUUID();
    const events = [
      { id: randomUUID(), type: 'run-create', body: { id: runId, pipeline: 'faults' } },
      { id: randomUUID(), type: 'step-create', body: { id: stepId, runId, name: 'filter' } },
      {
        id: randomUUID(),
        type: 'candidates-create',
        body: {
          stepId,
          candidates: [
            { key: 'ok-1', decision: 'accepted' },
            { key: candidateKey, decision: 'rejected', reason: 'r' },
          ],
        },
      },
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
    expect(
      await stored(
        runId,
        stepId,
        events.map((e) => e.id),
      ),
    ).toEqual({ runs: 0, steps: 0, candidates: 0, events: 0 });

    // The database is back: the client's retry of the same batch lands whole.
    await triggerDdl(t, 'ALTER TABLE candidates DISABLE TRIGGER xray_test_boom');
    try {
      const retried = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
      expect(retried.status).toBe(207);
      expect(retried.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 200, 200]);
      const again = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
      expect(again.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 200, 200]);
    } finally {
      await triggerDdl(t, 'ALTER TABLE candidates ENABLE TRIGGER xray_test_boom');
    }
    expect(
      await stored(
        runId,
        stepId,
        events.map((e) => e.id),
      ),
    ).toEqual({ runs: 1, steps: 1, candidates: 2, events: 5 });
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

  it('a deadlock or serialization failure is a 503 TRANSIENT_CONFLICT with Retry-After, and nothing is written', async () => {
    // What PostgreSQL answers when it picks this transaction as a deadlock's victim (40P01) or
    // cannot serialize it (40001): the request was fine and a retry will go through.
    await t.sql(`
      CREATE FUNCTION xray_test_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.key = 'deadlock' THEN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END IF;
        IF NEW.key = 'serialize' THEN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END IF;
        RETURN NEW;
      END $$`);
    await triggerDdl(t, 'CREATE TRIGGER xray_test_conflict BEFORE INSERT ON candidates FOR EACH ROW EXECUTE FUNCTION xray_test_conflict()');
    try {
      for (const candidateKey of ['deadlock', 'serialize']) {
        const { runId, stepId, events } = batch(candidateKey);
        const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
        expect({ status: res.status, error: res.body.error, retryAfter: res.headers['retry-after'] }).toEqual({
          status: 503,
          error: 'TRANSIENT_CONFLICT',
          retryAfter: '1',
        });
        expect(
          await stored(
            runId,
            stepId,
            events.map((e) => e.id),
          ),
        ).toEqual({ runs: 0, steps: 0, candidates: 0, events: 0 });
      }
    } finally {
      await triggerDdl(t, 'DROP TRIGGER xray_test_conflict ON candidates');
    }
  });

  it('a statement sent on a connection TypeORM already gave up (it broke mid-transaction) is a 503, not a 500', () => {
    // What the savepoint rollback of a batch hit in an outage: the driver had reported the
    // connection broken, so TypeORM released it before the rollback was sent.
    for (const err of [new QueryRunnerProviderAlreadyReleasedError(), new QueryRunnerAlreadyReleasedError()]) {
      expect(describeError(err)).toMatchObject({ body: { statusCode: 503, error: 'DATABASE_UNAVAILABLE' }, headers: { 'Retry-After': '5' } });
    }
  });

  (process.env.DATABASE_URL ? it : it.skip)(
    'an ingest batch whose connection is killed mid-write answers 503 (never 500) and leaves nothing behind',
    async () => {
      // The server ends the session of the write itself, as a database restart or failover does.
      await t.sql(`
        CREATE FUNCTION xray_test_kill() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.key LIKE 'kill%' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
          RETURN NEW;
        END $$`);
      await triggerDdl(t, 'CREATE TRIGGER xray_test_kill BEFORE INSERT ON candidates FOR EACH ROW EXECUTE FUNCTION xray_test_kill()');
      try {
        for (let i = 0; i < 5; i++) {
          const { runId, stepId, events } = batch(`kill-${i}`);
          const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
          expect({ status: res.status, error: res.body.error }).toEqual({ status: 503, error: 'DATABASE_UNAVAILABLE' });
          expect(res.headers['retry-after']).toBe('5');
          expect(
            await stored(
              runId,
              stepId,
              events.map((e) => e.id),
            ),
          ).toEqual({ runs: 0, steps: 0, candidates: 0, events: 0 });
        }
      } finally {
        await triggerDdl(t, 'DROP TRIGGER xray_test_kill ON candidates');
      }
      // The pool replaced the killed connections.
      const { runId, stepId, events } = batch('fine-2');
      const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
      expect(res.status).toBe(207);
      expect(
        await stored(
          runId,
          stepId,
          events.map((e) => e.id),
        ),
      ).toEqual({ runs: 1, steps: 1, candidates: 2, events: 5 });
    },
  );

  it('a database that hangs: queries fail by the client-side deadline (503), the stuck connection is dropped, and they work again after', async () => {
    // A pool of its own (two connections, 1.5 s deadline) through a proxy in front of the app's database.
    proxy = await FreezableProxy.start(new URL(t.databaseUrl));
    ds = createDataSource({ url: proxy.url(new URL(t.databaseUrl)), poolSize: 2, queryTimeoutMs: 1500 });
    await ds.initialize();
    // Two open connections in the pool (both pool slots), so nothing below needs a new one.
    expect(await Promise.all([ds!.query('SELECT 1 AS ok'), ds!.query('SELECT 1 AS ok')])).toEqual([[{ ok: 1 }], [{ ok: 1 }]]);
    proxy!.freeze();
    try {
      let started = Date.now();
      const err = await ds!.query('SELECT 2').catch((e: unknown) => e);
      const tookMs = Date.now() - started;
      // Before the fix there was no deadline: the query waited as long as the database hung.
      expect(String(err)).toMatch(/Query read timeout/);
      expect(tookMs).toBeLessThan(5000);
      expect(describeError(err)).toMatchObject({ body: { statusCode: 503, error: 'DATABASE_UNAVAILABLE' }, headers: { 'Retry-After': '5' } });

      // A transaction on the other connection: BEGIN times out; its ROLLBACK must not wait a
      // second deadline on the same stuck connection (it is ended, so the ROLLBACK fails at once).
      started = Date.now();
      const txErr = await ds!.transaction((m) => m.query('SELECT 3')).catch((e: unknown) => e);
      expect(describeError(txErr)?.body.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(2700); // one deadline (1.5 s), not two
    } finally {
      proxy!.thaw();
    }
    // The pool replaced the abandoned connections: queries work again without a restart.
    expect(await ds!.query('SELECT 4 AS ok')).toEqual([{ ok: 4 }]);
    expect(await ds!.transaction((m) => m.query('SELECT 5 AS ok'))).toEqual([{ ok: 5 }]);
    await ds!.destroy();
    await proxy!.close();
    proxy = undefined;
  }, 30_000);

  it('app.close() ends busy keep-alive connections instead of waiting for the client to stop', async () => {
    // Last: it closes the app the tests above share.
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
    // The app alone (dropping the test database after it is not the server's shutdown).
    const closing = t.closeApp().then(() => (closed = true));
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
    await t.close();
  }, 60_000);
});
