import { XrayClient } from '../../../../libs/sdk/src/client.js';
import type { XrayError } from '../../../../libs/sdk/src/errors.js';
import {
  type Answer,
  allApplied,
  ApiProcess,
  candidates,
  countBy,
  type IngestBatch,
  ingestBatch,
  mapLimit,
  percentile,
  PgCluster,
  report,
  request,
  sleep,
} from './support.js';

/**
 * Database outage: the built API runs against a private PostgreSQL while writers ingest
 * without pause; the test kills the database (`pg_ctl stop -m immediate`), keeps the writers
 * going through the outage, and starts it again. During the outage every answer must be a
 * fast 503 with Retry-After (never a 500, never a hang) and readiness must say so; after it
 * the same process must serve again by itself; every acknowledged write must be stored once,
 * and the SDK's events buffered during the outage must arrive.
 */
describe('database outage', () => {
  let cluster: PgCluster | undefined;
  let api: ApiProcess | undefined;

  beforeAll(async () => {
    cluster = await PgCluster.create();
    api = await ApiProcess.start(cluster.url(), { XRAY_RATE_LIMIT: '0' });
  }, 120_000);

  let hungApi: ApiProcess | undefined;

  afterAll(async () => {
    await api?.stop();
    await hungApi?.stop();
    await cluster?.destroy();
  });

  it('answers 503 with Retry-After fast while the database is down, heals by itself, loses and doubles nothing', async () => {
    const { key } = await api!.createProject('outage');
    const base = api!.base;
    const call = (method: string, path: string, body?: unknown) => request(base, method, path, body, { key, timeoutMs: 15_000 });

    // A step that takes direct candidate batches.
    const run = await call('POST', '/v1/runs', { pipeline: 'outage-direct' });
    const step = await call('POST', `/v1/runs/${(run.body as { id: string }).id}/steps`, { name: 'bulk' });
    const stepId = (step.body as { id: string }).id;

    type Kind = 'ingest' | 'candidates' | 'read' | 'ready' | 'live';
    const answers: (Answer & { kind: Kind })[] = [];
    const batches: { batch: IngestBatch; answer: Answer }[] = [];
    const direct: { keys: string[]; answer: Answer; body: unknown }[] = [];
    let stop = false;
    const loop = async (fn: () => Promise<void>) => {
      while (!stop) {
        await fn();
        await sleep(20);
      }
    };
    let n = 0;
    const writers = [
      ...[0, 1, 2].map(() =>
        loop(async () => {
          const batch = ingestBatch('outage', 20);
          const answer = await call('POST', '/v1/ingest', batch.body);
          answers.push({ ...answer, kind: 'ingest' });
          batches.push({ batch, answer });
        }),
      ),
      loop(async () => {
        const list = candidates(100, `direct-${n++}`);
        const body = { candidates: list };
        const answer = await call('POST', `/v1/steps/${stepId}/candidates`, body);
        answers.push({ ...answer, kind: 'candidates' });
        direct.push({ keys: list.map((c) => c.key), answer, body });
      }),
      loop(async () => {
        answers.push({ ...(await call('GET', '/v1/runs?limit=20')), kind: 'read' });
        answers.push({ ...(await request(base, 'GET', '/health/ready', undefined, { timeoutMs: 15_000 })), kind: 'ready' });
        answers.push({ ...(await request(base, 'GET', '/health/live', undefined, { timeoutMs: 15_000 })), kind: 'live' });
      }),
    ];

    // The SDK, configured to retry quickly: what it records during the outage must arrive later.
    const sdkErrors: XrayError[] = [];
    const xray = new XrayClient({
      baseUrl: base,
      apiKey: key,
      flushIntervalMs: 50,
      retryBaseMs: 100,
      retryMaxMs: 2000,
      exitFlushTimeoutMs: 0,
      onError: (e) => sdkErrors.push(e),
    });

    await sleep(2000);
    const killStarted = Date.now();
    await cluster!.kill();
    const killed = Date.now();

    // The SDK records a whole run while the database is away.
    const sdkRun = await xray.startRun({ pipeline: 'outage-sdk', input: { during: 'outage' } });
    const sdkItems = candidates(300, 'sdk');
    await sdkRun.step(
      'filter',
      async (s) => {
        s.candidates(sdkItems);
        s.complete({ output: { kept: 60 } });
      },
      { type: 'filter' },
    );
    await sdkRun.complete({ output: { done: true } });

    await sleep(5000);
    const restartAt = Date.now();
    await cluster!.start();
    const upAt = Date.now();
    let readyAt = 0;
    while (Date.now() - upAt < 30_000) {
      const r = await request(base, 'GET', '/health/ready', undefined, { timeoutMs: 5000 });
      if (r.status === 200) {
        readyAt = Date.now();
        break;
      }
      await sleep(100);
    }
    expect(readyAt).toBeGreaterThan(0);
    await sleep(3000);
    stop = true;
    await Promise.all(writers);

    const sdkFlushed = await xray.flush({ timeoutMs: 60_000 });
    const sdkStats = xray.stats();
    await xray.shutdown({ timeoutMs: 1000 });

    // --- What the clients saw.
    const during = answers.filter((a) => a.startedAt >= killed + 200 && a.startedAt + a.ms < restartAt);
    const settled = answers.filter((a) => a.startedAt >= readyAt + 1000);
    const fiveHundreds = answers.filter((a) => a.status >= 500 && a.status !== 503);
    const noAnswer = answers.filter((a) => a.status === 0);
    const badUnavailable = answers.filter(
      (a) => a.status === 503 && a.kind !== 'ready' && (!a.headers?.get('retry-after') || (a.body as { error?: string })?.error !== 'DATABASE_UNAVAILABLE'),
    );

    // --- Replay what was not acknowledged, as a client would; then everything must be there exactly once.
    const unackedBatches = batches.filter((b) => !allApplied(b.answer));
    const unackedDirect = direct.filter((d) => d.answer.status !== 201);
    const replays = [
      ...(await mapLimit(unackedBatches, 4, (b) => call('POST', '/v1/ingest', b.batch.body))),
      ...(await mapLimit(unackedDirect, 4, (d) => call('POST', `/v1/steps/${stepId}/candidates`, d.body))),
    ];

    const q = <T>(text: string, params?: unknown[]) => cluster!.query<T>(text, params);
    const runIds = batches.map((b) => b.batch.runId);
    const stepIds = batches.flatMap((b) => b.batch.stepIds);
    const [{ runs }] = await q<{ runs: number }>('SELECT count(*)::int AS runs FROM runs WHERE id = ANY($1::uuid[])', [runIds]);
    const stepRows = await q<{ id: string; rows: number; stored_in: number; status: string }>(
      `SELECT s.id, s.stored_in, s.status, (SELECT count(*)::int FROM candidates c WHERE c.step_id = s.id) AS rows
       FROM steps s WHERE s.id = ANY($1::uuid[])`,
      [stepIds],
    );
    const expectedKeys = batches.reduce((sum, b) => sum + [...b.batch.keys.values()].reduce((s, k) => s + k.length, 0), 0);
    const [directRow] = await q<{ rows: number; stored_in: number }>(
      'SELECT (SELECT count(*)::int FROM candidates WHERE step_id = $1) AS rows, stored_in FROM steps WHERE id = $1',
      [stepId],
    );
    const sdkRows = await q<{ status: string; steps: number; candidates: number }>(
      `SELECT r.status, (SELECT count(*)::int FROM steps WHERE run_id = r.id) AS steps,
              (SELECT count(*)::int FROM candidates WHERE run_id = r.id) AS candidates
       FROM runs r WHERE r.id = $1`,
      [sdkRun.id],
    );

    const latencyDuring = during.map((a) => a.ms);
    report('database outage (pg_ctl stop -m immediate, 5 s, then start)', [
      ['requests sent', answers.length],
      ['statuses (all)', countBy(answers, (a) => a.status)],
      ['during the outage', `${during.length} requests: ${JSON.stringify(countBy(during, (a) => `${a.kind}:${a.status}`))}`],
      ['latency during outage', `p50 ${percentile(latencyDuring, 50)} ms, p99 ${percentile(latencyDuring, 99)} ms, max ${Math.max(0, ...latencyDuring)} ms`],
      ['kill took', `${killed - killStarted} ms`],
      ['ready again after start', `${readyAt - upAt} ms (postgres start took ${upAt - restartAt} ms)`],
      ['after recovery (+1 s)', countBy(settled, (a) => a.status)],
      ['5xx other than 503', fiveHundreds.length],
      ['no answer / timed out', noAnswer.length],
      ['503 without Retry-After or code', badUnavailable.length],
      ['ingest batches acked / sent', `${batches.length - unackedBatches.length} / ${batches.length}`],
      ['candidate batches acked / sent', `${direct.length - unackedDirect.length} / ${direct.length}`],
      ['replayed unacked', `${replays.length}, statuses ${JSON.stringify(countBy(replays, (a) => a.status))}`],
      ['runs expected / found', `${runIds.length} / ${runs}`],
      ['steps expected / found', `${stepIds.length} / ${stepRows.length}`],
      ['ingest candidates expected / found', `${expectedKeys} / ${stepRows.reduce((s, r) => s + r.rows, 0)}`],
      ['direct candidates expected / found / counter', `${direct.length * 100} / ${directRow.rows} / ${directRow.stored_in}`],
      ['SDK', `flushed ${sdkFlushed}, stats ${JSON.stringify(sdkStats)}, run ${JSON.stringify(sdkRows[0])}`],
      ['API process', api!.alive ? `still the same process (pid ${api!.pid})` : 'EXITED'],
    ]);
    if (fiveHundreds.length || noAnswer.length) {
      process.stdout.write(
        `unexpected answers: ${JSON.stringify([...fiveHundreds, ...noAnswer].slice(0, 5).map((a) => ({ kind: a.kind, status: a.status, body: a.body, error: a.error })))}\n`,
      );
      process.stdout.write(`server log tail:\n${api!.log().slice(-4000)}\n`);
    }

    expect(api!.alive).toBe(true);
    expect(fiveHundreds).toEqual([]);
    expect(noAnswer.map((a) => `${a.kind} ${a.error}`)).toEqual([]);
    expect(badUnavailable.map((a) => `${a.kind} ${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    // During the outage: fast 503s for the API and readiness, 200 for liveness.
    expect(during.length).toBeGreaterThan(20);
    for (const a of during) {
      expect({ kind: a.kind, status: a.status }).toEqual({ kind: a.kind, status: a.kind === 'live' ? 200 : 503 });
      expect(a.ms).toBeLessThan(5000);
    }
    // After it: everything served again, by the same process.
    expect(settled.length).toBeGreaterThan(5);
    expect(settled.filter((a) => a.status >= 300)).toEqual([]);
    // Nothing lost, nothing doubled.
    expect(replays.filter((r) => !(r.status === 201 || allApplied(r)))).toEqual([]);
    expect(runs).toBe(runIds.length);
    expect(stepRows.length).toBe(stepIds.length);
    for (const r of stepRows) {
      expect(r.rows).toBe(20);
      expect(r.stored_in).toBe(20);
      expect(r.status).toBe('success');
    }
    expect(directRow).toEqual({ rows: direct.length * 100, stored_in: direct.length * 100 });
    // The SDK's events from the outage arrived, whole.
    expect(sdkFlushed).toBe(true);
    expect(sdkStats).toMatchObject({ rejected: 0, dropped: 0, unsent: 0, queued: 0 });
    expect(sdkRows).toEqual([{ status: 'success', steps: 1, candidates: 300 }]);
  }, 150_000);

  it('answers 503 by the statement timeout plus a margin while the database hangs, then heals', async () => {
    // The database hangs (SIGSTOP: connections stay open, nothing answers). Statements cannot
    // be cut by PostgreSQL then, so the API must stop waiting by itself.
    const STATEMENT_TIMEOUT = 2000;
    await api?.stop();
    api = undefined;
    hungApi = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: '0', XRAY_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT) });
    const { key } = await hungApi.createProject('hung');
    const base = hungApi.base;
    const call = (method: string, path: string, body?: unknown) => request(base, method, path, body, { key, timeoutMs: 60_000 });

    type Kind = 'ingest' | 'read' | 'ready';
    const answers: (Answer & { kind: Kind })[] = [];
    const batches: { batch: IngestBatch; answer: Answer }[] = [];
    let stop = false;
    const loop = async (fn: () => Promise<void>) => {
      while (!stop) {
        await fn();
        await sleep(20);
      }
    };
    const clients = [
      ...[0, 1, 2].map(() =>
        loop(async () => {
          const batch = ingestBatch('hung', 10);
          const answer = await call('POST', '/v1/ingest', batch.body);
          answers.push({ ...answer, kind: 'ingest' });
          batches.push({ batch, answer });
        }),
      ),
      loop(async () => {
        answers.push({ ...(await call('GET', '/v1/runs?limit=5')), kind: 'read' });
        answers.push({ ...(await request(base, 'GET', '/health/ready', undefined, { timeoutMs: 60_000 })), kind: 'ready' });
      }),
    ];
    await sleep(2000);
    const frozenAt = Date.now();
    cluster!.freeze();
    await sleep(20_000);
    const thawedAt = Date.now();
    cluster!.thaw();
    let readyAt = 0;
    while (Date.now() - thawedAt < 30_000) {
      if ((await request(base, 'GET', '/health/ready', undefined, { timeoutMs: 5000 })).status === 200) {
        readyAt = Date.now();
        break;
      }
      await sleep(100);
    }
    await sleep(3000);
    stop = true;
    await Promise.all(clients);

    // Started while frozen: answered by the deadline. Also answered while still frozen: a 503.
    const started = answers.filter((a) => a.startedAt >= frozenAt && a.startedAt < thawedAt);
    const during = started.filter((a) => a.startedAt + a.ms < thawedAt);
    const slowest = Math.max(0, ...started.map((a) => a.ms));
    const settled = answers.filter((a) => readyAt && a.startedAt >= readyAt + 1000);
    const unacked = batches.filter((b) => !allApplied(b.answer));
    const replays = await mapLimit(unacked, 4, (b) => call('POST', '/v1/ingest', b.batch.body));
    const [{ runs }] = await cluster!.query<{ runs: number }>('SELECT count(*)::int AS runs FROM runs WHERE id = ANY($1::uuid[])', [
      batches.map((b) => b.batch.runId),
    ]);
    const [{ candidates: stored }] = await cluster!.query<{ candidates: number }>(
      'SELECT count(*)::int AS candidates FROM candidates WHERE step_id = ANY($1::uuid[])',
      [batches.flatMap((b) => b.batch.stepIds)],
    );

    report(`database hangs (SIGSTOP of every PostgreSQL process for 20 s; XRAY_STATEMENT_TIMEOUT_MS=${STATEMENT_TIMEOUT})`, [
      ['requests sent', `${answers.length}: ${JSON.stringify(countBy(answers, (a) => a.status))}`],
      [
        'started and answered while frozen',
        `${during.length}: ${JSON.stringify(countBy(during, (a) => `${a.kind}:${a.status} ${(a.body as { error?: string })?.error ?? ''}`.trim()))}`,
      ],
      [
        'latency of those started while frozen',
        `p50 ${percentile(
          started.map((a) => a.ms),
          50,
        )} ms, max ${slowest} ms`,
      ],
      ['ready again after thaw', readyAt ? `${readyAt - thawedAt} ms` : 'NOT within 30 s'],
      ['after recovery (+1 s)', countBy(settled, (a) => a.status)],
      [
        'ingest batches acked / sent',
        `${batches.length - unacked.length} / ${batches.length}; replayed ${replays.length}: ${JSON.stringify(countBy(replays, (r) => r.status))}`,
      ],
      ['runs / candidates expected / found', `${batches.length} / ${runs}, ${batches.length * 20} / ${stored}`],
    ]);

    expect(hungApi.alive).toBe(true);
    expect(answers.filter((a) => a.status === 0 || (a.status >= 500 && a.status !== 503))).toEqual([]);
    expect(during.length).toBeGreaterThan(3);
    for (const a of during) {
      expect({ kind: a.kind, status: a.status }).toEqual({ kind: a.kind, status: 503 });
      if (a.kind !== 'ready') expect(a.headers?.get('retry-after')).toBeTruthy();
    }
    // Bounded by the statement timeout plus the client's 5 s margin (or the pool's 10 s connect
    // timeout for a new connection), not by the length of the hang (20 s).
    expect(slowest).toBeLessThan(13_000);
    expect(readyAt).toBeGreaterThan(0);
    expect(settled.filter((a) => a.status >= 300)).toEqual([]);
    expect(replays.filter((r) => !allApplied(r))).toEqual([]);
    expect(runs).toBe(batches.length);
    expect(stored).toBe(batches.length * 20);
  }, 150_000);
});
