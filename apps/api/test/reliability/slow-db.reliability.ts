import type pg from 'pg';
import { type Answer, ApiProcess, candidates, countBy, ingestBatch, percentile, PgCluster, report, request, sleep } from './support.js';

const TIMEOUT_MS = 1000;
const POOL = 4;

/**
 * Slow database: latency injected under the API (a trigger that sleeps in every candidate
 * insert, then a table lock held by the test). Requests must end by the statement timeout
 * with a clear, retryable error (503 STATEMENT_TIMEOUT with Retry-After), write nothing, leave
 * unaffected routes serving, and the pool must recover once the database is fast again.
 */
describe('slow database (statement timeout)', () => {
  let cluster: PgCluster | undefined;
  let api: ApiProcess | undefined;
  let holder: pg.Client | undefined;

  beforeAll(async () => {
    cluster = await PgCluster.create();
    api = await ApiProcess.start(cluster.url(), { XRAY_RATE_LIMIT: '0', XRAY_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS), XRAY_DB_POOL_SIZE: String(POOL) });
  }, 120_000);

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await api?.stop();
    await cluster?.destroy();
  });

  it('times out by XRAY_STATEMENT_TIMEOUT_MS with 503 STATEMENT_TIMEOUT, writes nothing, and the pool recovers', async () => {
    const { key } = await api!.createProject('slow');
    const call = (method: string, path: string, body?: unknown) => request(api!.base, method, path, body, { key, timeoutMs: 30_000 });
    const q = <T>(text: string, params?: unknown[]) => cluster!.query<T>(text, params);
    const run = await call('POST', '/v1/runs', { pipeline: 'slow' });
    const runId = (run.body as { id: string }).id;
    const stepId = ((await call('POST', `/v1/runs/${runId}/steps`, { name: 'filter' })).body as { id: string }).id;
    const isTimeout = (a: Answer) =>
      a.status === 503 &&
      (a.body as { error?: string })?.error === 'STATEMENT_TIMEOUT' &&
      Boolean(a.headers?.get('retry-after')) &&
      /XRAY_STATEMENT_TIMEOUT_MS/.test((a.body as { message?: string }).message ?? '');

    // --- 1. pg_sleep in a trigger: every candidate insert takes 5 s, far past the 1 s timeout.
    await q(`CREATE FUNCTION xray_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$`);
    await q('CREATE TRIGGER xray_slow BEFORE INSERT ON candidates FOR EACH STATEMENT EXECUTE FUNCTION xray_slow()');
    const slowWrites = Array.from({ length: 2 * POOL }, (_, i) => ({ keys: candidates(50, `slow-${i}`) }));
    const slowBatches = Array.from({ length: POOL }, () => ingestBatch('slow-ingest', 20));
    const started = Date.now();
    const [writes, ingests, reads] = await Promise.all([
      Promise.all(slowWrites.map((w) => call('POST', `/v1/steps/${stepId}/candidates`, { candidates: w.keys }))),
      Promise.all(slowBatches.map((b) => call('POST', '/v1/ingest', b.body))),
      (async () => {
        const out: Answer[] = [];
        while (Date.now() - started < 3000) out.push(await call('GET', '/v1/runs?limit=5'));
        return out;
      })(),
    ]);
    const sleepPhase = Date.now() - started;
    const [{ written }] = await q<{ written: number }>("SELECT count(*)::int AS written FROM candidates WHERE key LIKE 'slow-%'");
    const [{ ingested }] = await q<{ ingested: number }>("SELECT count(*)::int AS ingested FROM runs WHERE pipeline = 'slow-ingest'");

    // --- 2. A lock held by the test: every statement touching runs waits for it.
    holder = await cluster!.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
    const lockStarted = Date.now();
    const locked = await Promise.all([
      call('GET', '/v1/runs?limit=5'),
      call('POST', '/v1/runs', { pipeline: 'slow-locked' }),
      call('GET', `/v1/runs/${runId}`),
      call('POST', '/v1/ingest', ingestBatch('slow-locked', 5).body),
    ]);
    const ready = await request(api!.base, 'GET', '/health/ready', undefined, { timeoutMs: 10_000 });
    const lockPhase = Date.now() - lockStarted;
    await holder.query('ROLLBACK');
    await holder.end();
    holder = undefined;

    // --- 3. Fast again: the pool serves a burst well past its size, and holds nothing open.
    await q('DROP TRIGGER xray_slow ON candidates');
    const recoverStarted = Date.now();
    const burst = await Promise.all([
      ...Array.from({ length: 4 * POOL }, (_, i) => call('POST', `/v1/steps/${stepId}/candidates`, { candidates: candidates(50, `after-${i}`) })),
      ...Array.from({ length: 2 * POOL }, () => call('GET', '/v1/runs?limit=5')),
      ...Array.from({ length: POOL }, () => call('POST', '/v1/ingest', ingestBatch('slow-after', 10).body)),
    ]);
    const recoverMs = Date.now() - recoverStarted;
    await sleep(200);
    const sessions = await q<{ state: string; n: number }>(
      "SELECT state, count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'xray' GROUP BY state",
    );
    const [{ stored_in }] = await q<{ stored_in: number }>('SELECT stored_in FROM steps WHERE id = $1', [stepId]);

    const timedOut = [...writes, ...ingests];
    const latencies = timedOut.map((a) => a.ms);
    report(`slow database (XRAY_STATEMENT_TIMEOUT_MS=${TIMEOUT_MS}, pool ${POOL})`, [
      ['fault 1', 'BEFORE INSERT trigger on candidates doing pg_sleep(5)'],
      ['slow writes sent', `${writes.length} candidate batches + ${ingests.length} ingest batches at once`],
      ['their answers', countBy(timedOut, (a) => `${a.status} ${(a.body as { error?: string })?.error ?? ''}`)],
      [
        'their latency',
        `min ${Math.min(...latencies)} ms, p50 ${percentile(latencies, 50)} ms, max ${Math.max(...latencies)} ms (all queued on ${POOL} connections)`,
      ],
      ['rows written by them', `${written} candidates, ${ingested} runs`],
      ['reads meanwhile', `${reads.length}: ${JSON.stringify(countBy(reads, (a) => a.status))}, max ${Math.max(...reads.map((a) => a.ms))} ms`],
      ['phase took', `${sleepPhase} ms`],
      ['fault 2', 'LOCK TABLE runs IN ACCESS EXCLUSIVE MODE held by the test'],
      ['answers under the lock', locked.map((a) => `${a.status} ${(a.body as { error?: string })?.error ?? ''} in ${a.ms} ms`)],
      ['readiness under the lock', `${ready.status} ${JSON.stringify(ready.body)}`],
      ['phase took', `${lockPhase} ms`],
      ['recovery burst', `${burst.length} requests: ${JSON.stringify(countBy(burst, (a) => a.status))} in ${recoverMs} ms`],
      ['API sessions afterwards', sessions],
      ['candidates counter', `${stored_in} (expected ${4 * POOL * 50})`],
    ]);

    // Slow statements: a clear, retryable timeout, no earlier than the setting and not long after.
    expect(timedOut.filter((a) => !isTimeout(a)).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(Math.max(...latencies)).toBeLessThan(15_000);
    expect(written).toBe(0);
    expect(ingested).toBe(0);
    // Reads that never touch the slow table keep working.
    expect(reads.filter((a) => a.status !== 200)).toEqual([]);
    // Statements blocked by the lock time out the same way; readiness does not touch runs.
    expect(locked.filter((a) => !isTimeout(a)).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(Math.max(...locked.map((a) => a.ms))).toBeLessThan(15_000);
    expect(ready.status).toBe(200);
    // The pool recovered: everything succeeds, nothing is left open.
    expect(burst.filter((a) => a.status >= 300).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(sessions.filter((s) => s.state !== 'idle')).toEqual([]);
    expect(sessions.reduce((n, s) => n + s.n, 0)).toBeLessThanOrEqual(POOL);
    expect(stored_in).toBe(4 * POOL * 50);
    expect(api!.alive).toBe(true);
    expect(api!.unexpectedErrors()).toEqual([]);
  }, 120_000);
});
