import {
  type Answer,
  allApplied,
  ApiProcess,
  candidates,
  countBy,
  type IngestBatch,
  ingestBatch,
  mapLimit,
  PgCluster,
  report,
  request,
  sleep,
} from './support.js';

/**
 * Graceful restart: SIGTERM to the API under a steady write load. Every request it
 * acknowledged is stored, nothing is half-written, the process exits by itself (not by the
 * shutdown deadline) and leaves no open transaction or connection behind; a new process
 * serves the replays of what was not acknowledged.
 */
describe('graceful restart (SIGTERM under load)', () => {
  let cluster: PgCluster | undefined;
  const apis: ApiProcess[] = [];

  beforeAll(async () => {
    cluster = await PgCluster.create();
  }, 120_000);

  afterAll(async () => {
    for (const api of apis) await api.stop();
    await cluster?.destroy();
  });

  it('loses no acknowledged request and leaves no open transaction', async () => {
    const q = <T>(text: string, params?: unknown[]) => cluster!.query<T>(text, params);
    const api = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: '0', XRAY_SHUTDOWN_TIMEOUT: '25s' });
    apis.push(api);
    const { key } = await api.createProject('restart');
    const call = (base: string, method: string, path: string, body?: unknown) => request(base, method, path, body, { key, timeoutMs: 30_000 });

    const run = await call(api.base, 'POST', '/v1/runs', { pipeline: 'restart-direct' });
    const runId = (run.body as { id: string }).id;
    const stepIds: string[] = [];
    for (let i = 0; i < 2; i++) stepIds.push(((await call(api.base, 'POST', `/v1/runs/${runId}/steps`, { name: `bulk-${i}` })).body as { id: string }).id);

    const DIRECT_SIZE = 1000;
    const PER_STEP = 200;
    const direct: { stepId: string; keys: string[]; body: unknown; answer?: Answer; sentAt: number }[] = [];
    const batches: { batch: IngestBatch; answer?: Answer; sentAt: number }[] = [];
    const reads: Answer[] = [];
    let exited = false;
    let seq = 0;
    const loops = [
      ...[0, 1].map((w) => async () => {
        while (!exited) {
          const list = candidates(DIRECT_SIZE, `d${seq++}`);
          const item: (typeof direct)[number] = { stepId: stepIds[w], keys: list.map((c) => c.key), body: { candidates: list }, sentAt: Date.now() };
          direct.push(item);
          item.answer = await call(api.base, 'POST', `/v1/steps/${item.stepId}/candidates`, item.body);
          if (item.answer.status === 0) await sleep(50);
        }
      }),
      ...[0, 1, 2, 3].map(() => async () => {
        while (!exited) {
          const item: (typeof batches)[number] = { batch: ingestBatch('restart', PER_STEP), sentAt: Date.now() };
          batches.push(item);
          item.answer = await call(api.base, 'POST', '/v1/ingest', item.batch.body);
          if (item.answer.status === 0) await sleep(50);
        }
      }),
      async () => {
        while (!exited) {
          const r = await call(api.base, 'GET', '/v1/runs?limit=20');
          reads.push(r);
          if (r.status === 0) await sleep(50);
        }
      },
    ];
    const running = Promise.all(loops.map((l) => l()));

    // Watch the API's sessions while it shuts down: open transactions, and how long each lasted.
    const watcher = await cluster!.connect();
    const sessions: { at: number; state: string; xactMs: number }[] = [];
    let watching = true;
    const watching$ = (async () => {
      while (watching) {
        const { rows } = await watcher.query(
          `SELECT state, COALESCE(extract(epoch FROM now() - xact_start) * 1000, 0)::int AS xact_ms
           FROM pg_stat_activity WHERE application_name = 'xray'`,
        );
        for (const r of rows) sessions.push({ at: Date.now(), state: r.state, xactMs: r.xact_ms });
        await sleep(50);
      }
    })();

    await sleep(3000);
    const inFlight = direct.filter((d) => !d.answer).length + batches.filter((b) => !b.answer).length;
    const signalledAt = Date.now();
    api.kill('SIGTERM');
    const exit = await api.exited;
    exited = true;
    await running;
    // The API's connections must be gone (closed by the pool, not left to time out).
    let backendsGoneMs = -1;
    while (Date.now() - exit.at < 10_000) {
      const [{ n }] = await q<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'xray'");
      if (n === 0) {
        backendsGoneMs = Date.now() - exit.at;
        break;
      }
      await sleep(50);
    }
    watching = false;
    await watching$;
    await watcher.end();
    const [{ prepared }] = await q<{ prepared: number }>('SELECT count(*)::int AS prepared FROM pg_prepared_xacts');

    // --- What was acknowledged is stored; nothing is half-written.
    const directState = await mapLimit(direct, 4, async (d) => {
      const [{ n }] = await q<{ n: number }>('SELECT count(*)::int AS n FROM candidates WHERE step_id = $1 AND key = ANY($2::text[])', [d.stepId, d.keys]);
      return n;
    });
    const batchState = await mapLimit(batches, 4, async ({ batch }) => {
      const [row] = await q<{ runs: number; steps: number; done: number; candidates: number }>(
        `SELECT (SELECT count(*)::int FROM runs WHERE id = $1 AND status = 'success') AS runs,
                (SELECT count(*)::int FROM steps WHERE id = ANY($2::uuid[])) AS steps,
                (SELECT count(*)::int FROM steps WHERE id = ANY($2::uuid[]) AND status = 'success') AS done,
                (SELECT count(*)::int FROM candidates WHERE step_id = ANY($2::uuid[])) AS candidates`,
        [batch.runId, batch.stepIds],
      );
      return row;
    });
    const whole = JSON.stringify({ runs: 1, steps: 2, done: 2, candidates: 2 * PER_STEP });
    const none = JSON.stringify({ runs: 0, steps: 0, done: 0, candidates: 0 });
    const lost = [
      ...direct.filter((d, i) => d.answer?.status === 201 && directState[i] !== DIRECT_SIZE),
      ...batches.filter((b, i) => allApplied(b.answer!) && JSON.stringify(batchState[i]) !== whole),
    ];
    const half = [
      ...direct.filter((_, i) => directState[i] !== 0 && directState[i] !== DIRECT_SIZE),
      ...batches.filter((_, i) => JSON.stringify(batchState[i]) !== whole && JSON.stringify(batchState[i]) !== none),
    ];
    const all = [...direct, ...batches].map((x) => x.answer!).concat(reads);
    const afterSignal = all.filter((a) => a.startedAt + a.ms >= signalledAt);
    // Requests the server was working on when the signal came must all be answered.
    const caught = all.filter((a) => a.startedAt < signalledAt - 50 && a.startedAt + a.ms >= signalledAt);
    const serverErrors = all.filter((a) => a.status >= 500);

    // --- A new process serves the replays of what was not acknowledged.
    const next = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: '0' }, api.rootKey);
    apis.push(next);
    const unackedDirect = direct.filter((d) => d.answer?.status !== 201);
    const unackedBatches = batches.filter((b) => !allApplied(b.answer!));
    const replays = [
      ...(await mapLimit(unackedDirect, 2, (d) => call(next.base, 'POST', `/v1/steps/${d.stepId}/candidates`, d.body))),
      ...(await mapLimit(unackedBatches, 2, (b) => call(next.base, 'POST', '/v1/ingest', b.batch.body))),
    ];
    const [totals] = await q<{ runs: number; direct: number; counters: number }>(
      `SELECT (SELECT count(*)::int FROM runs WHERE pipeline = 'restart' AND status = 'success') AS runs,
              (SELECT count(*)::int FROM candidates WHERE step_id = ANY($1::uuid[])) AS direct,
              (SELECT sum(stored_in)::int FROM steps WHERE id = ANY($1::uuid[])) AS counters`,
      [stepIds],
    );
    const openTransactions = sessions.filter((s) => s.state === 'idle in transaction');
    const longest = Math.max(0, ...sessions.map((s) => s.xactMs));

    report('graceful restart (SIGTERM under load)', [
      ['load', `2 candidate writers (${DIRECT_SIZE} per batch), 4 ingest writers (run, 2 steps, ${2 * PER_STEP} candidates), 1 reader`],
      ['fault', `SIGTERM after 3 s with ${inFlight} writes in flight`],
      ['exit', `${exit.code !== null ? `code ${exit.code}` : `signal ${exit.signal}`} after ${exit.at - signalledAt} ms (deadline 25 s)`],
      ['API sessions gone', backendsGoneMs >= 0 ? `${backendsGoneMs} ms after exit` : 'NOT within 10 s'],
      [
        'API sessions sampled (load, shutdown)',
        `${sessions.length} samples, ${openTransactions.length} idle in transaction, longest transaction ${longest} ms`,
      ],
      ['prepared transactions', prepared],
      ['requests sent', `${all.length}: ${JSON.stringify(countBy(all, (a) => a.status))}`],
      ['in flight at SIGTERM, answered', `${caught.length}: ${JSON.stringify(countBy(caught, (a) => a.status))}`],
      ['answers after SIGTERM', countBy(afterSignal, (a) => (a.status === 0 ? `no connection (${a.error})` : a.status))],
      ['writes acked / sent', `${direct.length + batches.length - unackedDirect.length - unackedBatches.length} / ${direct.length + batches.length}`],
      ['acked but missing', lost.length],
      ['half-written', half.length],
      ['replayed on the new process', `${replays.length}: ${JSON.stringify(countBy(replays, (r) => r.status))}`],
      ['runs expected / found', `${batches.length} / ${totals.runs}`],
      ['direct candidates expected / found / counters', `${direct.length * DIRECT_SIZE} / ${totals.direct} / ${totals.counters}`],
    ]);

    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(exit.at - signalledAt).toBeLessThan(20_000);
    expect(backendsGoneMs).toBeGreaterThanOrEqual(0);
    expect(prepared).toBe(0);
    expect(caught.filter((a) => a.status < 200 || a.status >= 300).map((a) => `${a.status} ${a.error}`)).toEqual([]);
    expect(serverErrors.map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(lost).toEqual([]);
    expect(half).toEqual([]);
    expect(replays.filter((r) => !(r.status === 201 || allApplied(r)))).toEqual([]);
    expect(totals).toEqual({ runs: batches.length, direct: direct.length * DIRECT_SIZE, counters: direct.length * DIRECT_SIZE });
    expect(api.unexpectedErrors()).toEqual([]);
  }, 150_000);
});
