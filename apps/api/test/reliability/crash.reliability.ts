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
 * Crash mid-batch: the API process is SIGKILLed while large candidate batches
 * (`POST /v1/steps/:id/candidates`) and ingest batches (`POST /v1/ingest`) are in flight.
 * Afterwards every request is either wholly stored or not at all, everything acknowledged is
 * stored, and replaying the unacknowledged requests against a new process completes the data
 * with nothing doubled.
 */
describe('crash mid-batch (SIGKILL)', () => {
  let cluster: PgCluster | undefined;
  const apis: ApiProcess[] = [];

  beforeAll(async () => {
    cluster = await PgCluster.create();
  }, 120_000);

  afterAll(async () => {
    for (const api of apis) await api.stop();
    await cluster?.destroy();
  });

  /** Waits until PostgreSQL has finished every statement the dead process left running. */
  async function quiesce(): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < 30_000) {
      const [{ n }] = await cluster!.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'xray'");
      if (n === 0) return Date.now() - started;
      await sleep(100);
    }
    throw new Error('backends of the killed API still running after 30 s');
  }

  const ROUNDS = 2;
  const DIRECT_SIZE = 4000;
  const INGEST_PER_STEP = 1500;

  it('leaves every batch whole or absent, and replays complete the data exactly once', async () => {
    const q = <T>(text: string, params?: unknown[]) => cluster!.query<T>(text, params);
    let api = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: '0' });
    apis.push(api);
    const { key } = await api.createProject('crash');
    const call = (base: string, method: string, path: string, body?: unknown) => request(base, method, path, body, { key, timeoutMs: 60_000 });

    const run = await call(api.base, 'POST', '/v1/runs', { pipeline: 'crash-direct' });
    const runId = (run.body as { id: string }).id;
    const stepIds: string[] = [];
    for (let i = 0; i < 4; i++) stepIds.push(((await call(api.base, 'POST', `/v1/runs/${runId}/steps`, { name: `bulk-${i}` })).body as { id: string }).id);

    const direct: { stepId: string; keys: string[]; body: unknown; answer?: Answer }[] = [];
    const batches: { batch: IngestBatch; answer?: Answer }[] = [];
    let seq = 0;
    const faults: string[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const base = api.base;
      let dead = false;
      const loops = [
        ...[0, 1, 2].map((w) => async () => {
          while (!dead) {
            const list = candidates(DIRECT_SIZE, `r${round}-d${seq++}`, 120);
            const item: (typeof direct)[number] = { stepId: stepIds[w], keys: list.map((c) => c.key), body: { candidates: list } };
            direct.push(item);
            item.answer = await call(base, 'POST', `/v1/steps/${item.stepId}/candidates`, item.body);
            if (item.answer.status === 0) dead = true;
          }
        }),
        ...[0, 1, 2].map(() => async () => {
          while (!dead) {
            const item: (typeof batches)[number] = { batch: ingestBatch('crash', INGEST_PER_STEP) };
            batches.push(item);
            item.answer = await call(base, 'POST', '/v1/ingest', item.batch.body);
            if (item.answer.status === 0) dead = true;
          }
        }),
      ];
      const running = Promise.all(loops.map((l) => l()));
      // Let some requests complete, then kill at an arbitrary moment with six in flight.
      await sleep(2000 + round * 500);
      const inFlight = direct.filter((d) => !d.answer).length + batches.filter((b) => !b.answer).length;
      api.kill('SIGKILL');
      await api.exited;
      faults.push(`SIGKILL with ${inFlight} requests in flight`);
      await running;

      // Check right after the crash (once PostgreSQL has finished what it was running).
      const settleMs = await quiesce();
      faults[faults.length - 1] += `; backends gone after ${settleMs} ms`;

      // New process on the same database, for the next round and the replays.
      api = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: '0' }, api.rootKey);
      apis.push(api);
    }

    // --- All or nothing, per request, as the crash left it.
    const directState = await mapLimit(direct, 4, async (d) => {
      const [{ n }] = await q<{ n: number }>('SELECT count(*)::int AS n FROM candidates WHERE step_id = $1 AND key = ANY($2::text[])', [d.stepId, d.keys]);
      return n;
    });
    const batchState = await mapLimit(batches, 4, async ({ batch }) => {
      const [row] = await q<{ runs: number; run_done: number; steps: number; steps_done: number; candidates: number; events: number }>(
        `SELECT (SELECT count(*)::int FROM runs WHERE id = $1) AS runs,
                (SELECT count(*)::int FROM runs WHERE id = $1 AND status = 'success') AS run_done,
                (SELECT count(*)::int FROM steps WHERE id = ANY($2::uuid[])) AS steps,
                (SELECT count(*)::int FROM steps WHERE id = ANY($2::uuid[]) AND status = 'success') AS steps_done,
                (SELECT count(*)::int FROM candidates WHERE step_id = ANY($2::uuid[])) AS candidates,
                (SELECT count(*)::int FROM ingest_events WHERE event_id = ANY($3::text[])) AS events`,
        [batch.runId, batch.stepIds, batch.body.events.map((e) => e.id)],
      );
      return row;
    });
    const whole = { runs: 1, run_done: 1, steps: 2, steps_done: 2, candidates: 2 * INGEST_PER_STEP, events: batches[0].batch.body.events.length };
    const none = { runs: 0, run_done: 0, steps: 0, steps_done: 0, candidates: 0, events: 0 };
    const halfDirect = direct.filter((_, i) => directState[i] !== 0 && directState[i] !== DIRECT_SIZE);
    const halfBatches = batches.filter(
      (_, i) => JSON.stringify(batchState[i]) !== JSON.stringify(whole) && JSON.stringify(batchState[i]) !== JSON.stringify(none),
    );
    const lostDirect = direct.filter((d, i) => d.answer?.status === 201 && directState[i] !== DIRECT_SIZE);
    const lostBatches = batches.filter((b, i) => allApplied(b.answer!) && JSON.stringify(batchState[i]) !== JSON.stringify(whole));
    const unackedDirect = direct.filter((d) => d.answer?.status !== 201);
    const unackedBatches = batches.filter((b) => !allApplied(b.answer!));
    const storedAnyway =
      unackedDirect.filter((d) => directState[direct.indexOf(d)] === DIRECT_SIZE).length +
      unackedBatches.filter((b) => batchState[batches.indexOf(b)].runs === 1).length;

    // --- Replay the unacknowledged requests on the new process.
    const replays = [
      ...(await mapLimit(unackedDirect, 2, (d) => call(api.base, 'POST', `/v1/steps/${d.stepId}/candidates`, d.body))),
      ...(await mapLimit(unackedBatches, 2, (b) => call(api.base, 'POST', '/v1/ingest', b.batch.body))),
    ];
    const failedReplays = replays.filter((r) => !(r.status === 201 || allApplied(r)));

    const counters = await q<{ id: string; rows: number; stored_in: number }>(
      `SELECT s.id, s.stored_in, (SELECT count(*)::int FROM candidates c WHERE c.step_id = s.id) AS rows
       FROM steps s WHERE s.id = ANY($1::uuid[])`,
      [[...stepIds, ...batches.flatMap((b) => b.batch.stepIds)]],
    );
    const perDirectStep = Object.fromEntries(stepIds.map((id) => [id, direct.filter((d) => d.stepId === id).length * DIRECT_SIZE]));
    const [{ runs }] = await q<{ runs: number }>("SELECT count(*)::int AS runs FROM runs WHERE pipeline = 'crash'");
    const wrongCounters = counters.filter((c) => c.rows !== c.stored_in || c.rows !== (perDirectStep[c.id] ?? INGEST_PER_STEP));

    report('crash mid-batch (SIGKILL of the API)', [
      ['faults injected', faults],
      ['candidate batches sent / acked', `${direct.length} / ${direct.length - unackedDirect.length} (${DIRECT_SIZE} candidates each)`],
      ['ingest batches sent / acked', `${batches.length} / ${batches.length - unackedBatches.length} (run, 2 steps, ${2 * INGEST_PER_STEP} candidates each)`],
      ['answers', countBy([...direct, ...batches], (x) => x.answer?.status ?? 'none')],
      ['unacked but stored whole anyway', storedAnyway],
      ['half-written candidate batches', halfDirect.length],
      ['half-written ingest batches', halfBatches.length],
      ['acked but missing', lostDirect.length + lostBatches.length],
      ['replayed', `${replays.length}: ${JSON.stringify(countBy(replays, (r) => r.status))}`],
      ['runs expected / found after replay', `${batches.length} / ${runs}`],
      ['steps with wrong counts or counters', `${wrongCounters.length} of ${counters.length}`],
    ]);
    if (halfBatches.length) {
      process.stdout.write(`  half-written ingest batches as found: ${JSON.stringify(halfBatches.slice(0, 5).map((b) => batchState[batches.indexOf(b)]))}\n`);
    }

    expect(faults).toHaveLength(ROUNDS);
    expect(unackedDirect.length + unackedBatches.length).toBeGreaterThan(0);
    expect(halfDirect.map((d) => directState[direct.indexOf(d)])).toEqual([]);
    expect(halfBatches.map((b) => batchState[batches.indexOf(b)])).toEqual([]);
    expect(lostDirect.length + lostBatches.length).toBe(0);
    expect(failedReplays.map((r) => `${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)).toEqual([]);
    expect(runs).toBe(batches.length);
    expect(counters).toHaveLength(stepIds.length + 2 * batches.length);
    expect(wrongCounters).toEqual([]);
    for (const a of apis) expect(a.unexpectedErrors()).toEqual([]);
  }, 170_000);
});
