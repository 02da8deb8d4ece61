import { randomUUID } from 'node:crypto';
import {
  type Answer,
  allApplied,
  ApiProcess,
  candidates,
  countBy,
  type IngestBatch,
  ingestBatch,
  percentile,
  PgCluster,
  report,
  request,
  sleep,
  slope,
} from './support.js';

/** Seconds of mixed load (XRAY_LOAD_SECONDS; 25 by default, e.g. 300 for a long run). */
const SECONDS = Number(process.env.XRAY_LOAD_SECONDS ?? 25);
/** Concurrent clients (XRAY_LOAD_CONCURRENCY): enough to keep the API busy on this machine. */
const CONCURRENCY = Number(process.env.XRAY_LOAD_CONCURRENCY ?? 12);
const INGEST_PER_STEP = 100;
const INGEST_STEPS = 3;
const BULK_SIZE = 1000;

const sampleEvery = <T>(xs: T[], n: number): T[] => xs.filter((_, i) => i % n === 0 || i === xs.length - 1);

/**
 * Load: SDK-shaped ingest batches, candidate bulk writes and the read API at once, as fast as
 * the clients get answers, for SECONDS. No 5xx (nor any unexpected status), no lost or doubled
 * write (what the database holds is checked against what was acknowledged), p50/p99 reported
 * per kind, and the server's resident memory sampled throughout must show no growth trend.
 * Then, with XRAY_RATE_LIMIT set, a noisy key gets 429 with Retry-After past its limit (and
 * those requests write nothing) while a quiet key in the same project is unaffected.
 */
describe('load', () => {
  let cluster: PgCluster | undefined;
  let api: ApiProcess | undefined;

  beforeAll(async () => {
    cluster = await PgCluster.create({ max_connections: 60 });
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await cluster?.destroy();
  });

  it(
    `mixed ingest, bulk and reads for ${SECONDS} s: zero 5xx, zero lost writes, flat memory`,
    async () => {
      api = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: '0' }, undefined, { traceGc: true });
      const { id: projectId, key } = await api.createProject('load');
      const base = api.base;
      const call = (method: string, path: string, body?: unknown) => request(base, method, path, body, { key, timeoutMs: 60_000 });

      type Kind = 'ingest' | 'bulk' | 'read';
      const answers: (Answer & { kind: Kind; route: string })[] = [];
      const acked: IngestBatch[] = [];
      const unacked: IngestBatch[] = [];
      const bulkSteps: string[] = [];
      const bulkAcked = new Map<string, number>();
      const knownRuns: string[] = [];
      const knownSteps: string[] = [];

      const bulkRun = ((await call('POST', '/v1/runs', { pipeline: 'load-bulk' })).body as { id: string }).id;
      const newBulkStep = async () => {
        const step = ((await call('POST', `/v1/runs/${bulkRun}/steps`, { name: 'bulk', type: 'filter' })).body as { id: string }).id;
        bulkSteps.push(step);
        bulkAcked.set(step, 0);
        return step;
      };

      const reads: [string, () => string][] = [
        ['listRuns', () => '/v1/runs?limit=20&pipeline=load'],
        ['getRun', () => `/v1/runs/${knownRuns[Math.floor(Math.random() * knownRuns.length)]}`],
        ['listCandidates', () => `/v1/steps/${knownSteps[Math.floor(Math.random() * knownSteps.length)]}/candidates?limit=100&decision=rejected`],
        ['summary', () => `/v1/steps/${knownSteps[Math.floor(Math.random() * knownSteps.length)]}/candidates/summary`],
        ['searchSteps', () => '/v1/steps?name=stage-0&minEliminationRatio=0.5&limit=50'],
        ['analytics', () => '/v1/analytics/pipelines/load'],
      ];

      const endAt = Date.now() + SECONDS * 1000;
      const role = (i: number): Kind => (i % 3 === 0 ? 'read' : i % 3 === 1 ? 'ingest' : i % 6 === 2 ? 'bulk' : 'ingest');
      const client = async (i: number) => {
        const kind = role(i);
        let bulkStep = kind === 'bulk' ? await newBulkStep() : '';
        let n = 0;
        while (Date.now() < endAt) {
          if (kind === 'ingest') {
            const batch = ingestBatch('load', INGEST_PER_STEP, INGEST_STEPS);
            const a = await call('POST', '/v1/ingest', batch.body);
            answers.push({ ...a, kind, route: 'ingest' });
            if (allApplied(a)) {
              acked.push(batch);
              knownRuns.push(batch.runId);
              knownSteps.push(...batch.stepIds);
            } else unacked.push(batch);
          } else if (kind === 'bulk') {
            if (++n % 20 === 0) bulkStep = await newBulkStep();
            const a = await call('POST', `/v1/steps/${bulkStep}/candidates`, { candidates: candidates(BULK_SIZE, `b${i}-${n}`) });
            answers.push({ ...a, kind, route: 'createCandidates' });
            if (a.status === 201) bulkAcked.set(bulkStep, bulkAcked.get(bulkStep)! + BULK_SIZE);
          } else {
            if (knownRuns.length === 0) {
              await sleep(50);
              continue;
            }
            const [route, path] = reads[n++ % reads.length];
            answers.push({ ...(await call('GET', path())), kind, route });
          }
        }
      };

      // Resident memory of the server, sampled while the load runs.
      const rss: { t: number; mb: number }[] = [];
      const startedAt = Date.now();
      const sampler = setInterval(() => {
        const bytes = api!.rss();
        if (bytes) rss.push({ t: (Date.now() - startedAt) / 1000, mb: bytes / 2 ** 20 });
      }, 500);
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => client(i)));
      clearInterval(sampler);
      const elapsed = (Date.now() - startedAt) / 1000;

      // --- What the database holds against what was acknowledged.
      const q = <T>(text: string, params?: unknown[]) => cluster!.query<T>(text, params);
      const [ingested] = await q<{ runs: number; done: number; steps: number; candidates: number; counters: number }>(
        `SELECT (SELECT count(*)::int FROM runs WHERE project_id = $1 AND pipeline = 'load') AS runs,
              (SELECT count(*)::int FROM runs WHERE project_id = $1 AND pipeline = 'load' AND status = 'success') AS done,
              (SELECT count(*)::int FROM steps WHERE project_id = $1 AND pipeline = 'load') AS steps,
              (SELECT count(*)::int FROM candidates c JOIN steps s ON s.id = c.step_id WHERE s.project_id = $1 AND s.pipeline = 'load') AS candidates,
              (SELECT COALESCE(sum(stored_in), 0)::int FROM steps WHERE project_id = $1 AND pipeline = 'load') AS counters`,
        [projectId],
      );
      const bulkRows = await q<{ id: string; rows: number; stored_in: number }>(
        `SELECT s.id, s.stored_in, (SELECT count(*)::int FROM candidates c WHERE c.step_id = s.id) AS rows FROM steps s WHERE s.run_id = $1`,
        [bulkRun],
      );
      const bulkExpected = [...bulkAcked.values()].reduce((a, b) => a + b, 0);
      const bulkFound = bulkRows.reduce((a, r) => a + r.rows, 0);
      const bulkWrong = bulkRows.filter((r) => r.rows !== bulkAcked.get(r.id) || r.stored_in !== r.rows);

      // --- Latency, errors, memory.
      const unexpected = answers.filter((a) => !(a.kind === 'read' ? a.status === 200 : a.kind === 'bulk' ? a.status === 201 : a.status === 207));
      const serverErrors = answers.filter((a) => a.status >= 500 || a.status === 0);
      const byRoute = Object.entries(countBy(answers, (a) => a.route)).map(([route, n]) => {
        const ms = answers.filter((a) => a.route === route).map((a) => a.ms);
        return [route, `${n} requests, p50 ${percentile(ms, 50)} ms, p99 ${percentile(ms, 99)} ms, max ${Math.max(...ms)} ms`] as [string, string];
      });
      const all = answers.map((a) => a.ms);
      // Memory. RSS moves in a saw-tooth with the garbage collector, so the leak signal is the
      // heap that survives each full collection (from --trace-gc), after a warm-up: its level in
      // the last third of the run against the first third, and its trend.
      const warmUpS = Math.max(3, elapsed * 0.2);
      const live = api.liveHeap.map((g) => ({ t: (g.at - startedAt) / 1000, mb: g.mb })).filter((g) => g.t >= warmUpS && g.t <= elapsed);
      const third = Math.floor(live.length / 3);
      const median = (xs: number[]) => percentile(xs, 50);
      const heapEarly = third ? median(live.slice(0, third).map((g) => g.mb)) : NaN;
      const heapLate = third ? median(live.slice(-third).map((g) => g.mb)) : NaN;
      const heapTrend = slope(live.map((g) => ({ x: g.t / 60, y: g.mb })));
      const rssStart = rss[0]?.mb ?? 0;
      const rssMax = Math.max(...rss.map((r) => r.mb));
      const rssEnd = rss[rss.length - 1]?.mb ?? 0;
      const candidatesWritten = acked.length * INGEST_STEPS * INGEST_PER_STEP + bulkExpected;

      report(`load (${SECONDS} s, ${CONCURRENCY} clients: ingest, candidate bulk, reads)`, [
        [
          'requests',
          `${answers.length} in ${elapsed.toFixed(1)} s = ${(answers.length / elapsed).toFixed(0)} req/s; ${(candidatesWritten / elapsed).toFixed(0)} candidates/s written`,
        ],
        ['statuses', countBy(answers, (a) => a.status)],
        ['latency (all)', `p50 ${percentile(all, 50)} ms, p99 ${percentile(all, 99)} ms, max ${Math.max(...all)} ms`],
        ...byRoute,
        ['5xx or no answer', serverErrors.length],
        [
          'ingest batches acked / sent',
          `${acked.length} / ${acked.length + unacked.length} (run, ${INGEST_STEPS} steps, ${INGEST_STEPS * INGEST_PER_STEP} candidates each)`,
        ],
        ['runs / steps / candidates expected', `${acked.length} / ${acked.length * INGEST_STEPS} / ${acked.length * INGEST_STEPS * INGEST_PER_STEP}`],
        [
          'runs / steps / candidates found',
          `${ingested.runs} (${ingested.done} success) / ${ingested.steps} / ${ingested.candidates} (counters ${ingested.counters})`,
        ],
        ['bulk candidates acked / found', `${bulkExpected} / ${bulkFound} over ${bulkRows.length} steps, ${bulkWrong.length} steps off`],
        ['server RSS', `${rss.length} samples: start ${rssStart.toFixed(0)} MB, end ${rssEnd.toFixed(0)} MB, max ${rssMax.toFixed(0)} MB`],
        [
          'RSS over time (MB)',
          sampleEvery(rss, Math.max(1, Math.ceil(rss.length / 20)))
            .map((r) => `${r.t.toFixed(0)}s:${r.mb.toFixed(0)}`)
            .join(' '),
        ],
        [
          'live heap after full GCs',
          `${live.length} full GCs after ${warmUpS.toFixed(0)} s warm-up: first third ${heapEarly.toFixed(1)} MB, last third ${heapLate.toFixed(1)} MB, trend ${heapTrend.toFixed(2)} MB/min`,
        ],
        [
          'live heap over time (MB)',
          sampleEvery(live, Math.max(1, Math.ceil(live.length / 20)))
            .map((g) => `${g.t.toFixed(0)}s:${g.mb.toFixed(0)}`)
            .join(' '),
        ],
      ]);
      if (unexpected.length)
        process.stdout.write(
          `  unexpected answers: ${JSON.stringify(unexpected.slice(0, 5).map((a) => ({ route: a.route, status: a.status, error: a.error, body: a.body })))}\n`,
        );

      expect(serverErrors).toEqual([]);
      expect(unexpected.map((a) => `${a.route} ${a.status}`)).toEqual([]);
      expect(acked.length).toBeGreaterThan(0);
      expect(ingested).toEqual({
        runs: acked.length,
        done: acked.length,
        steps: acked.length * INGEST_STEPS,
        candidates: acked.length * INGEST_STEPS * INGEST_PER_STEP,
        counters: acked.length * INGEST_STEPS * INGEST_PER_STEP,
      });
      expect(bulkFound).toBe(bulkExpected);
      expect(bulkWrong).toEqual([]);
      // Flat memory: the live heap does not grow from the first third of the run to the last
      // (bounds generous for noise; retaining even 1% of the request bodies would break them), and
      // RSS stays bounded.
      expect(rss.length).toBeGreaterThan(5);
      expect(rssMax - rssStart).toBeLessThan(384);
      if (live.length >= 4) expect(heapLate - heapEarly).toBeLessThan(Math.max(16, heapEarly * 0.25));
      if (SECONDS >= 120) expect(heapTrend).toBeLessThan(3);
      expect(api.unexpectedErrors()).toEqual([]);
      await api.stop();
      api = undefined;
    },
    SECONDS * 1000 + 120_000,
  );

  it('with XRAY_RATE_LIMIT, the excess gets 429 with Retry-After and writes nothing; other keys are unaffected', async () => {
    const LIMIT = 120;
    api = await ApiProcess.start(cluster!.url(), { XRAY_RATE_LIMIT: String(LIMIT) });
    const { key: noisyKey } = await api.createProject('rate');
    const quiet = await request(api.base, 'POST', '/v1/api-keys', { name: 'quiet', scopes: ['ingest', 'read'] }, { key: noisyKey });
    const quietKey = (quiet.body as { key: string }).key;
    const windowAtStart = Math.floor(Date.now() / 60_000);

    const noisy: (Answer & { runId: string })[] = [];
    const calm: Answer[] = [];
    const endAt = Date.now() + 8000;
    const blast = async () => {
      while (Date.now() < endAt) {
        const runId = randomUUID();
        noisy.push({ ...(await request(api!.base, 'POST', '/v1/runs', { id: runId, pipeline: 'rate-noisy' }, { key: noisyKey })), runId });
      }
    };
    const steady = async () => {
      while (Date.now() < endAt) {
        calm.push(await request(api!.base, 'POST', '/v1/runs', { pipeline: 'rate-quiet' }, { key: quietKey }));
        calm.push(await request(api!.base, 'GET', '/v1/runs?limit=5&pipeline=rate-quiet', undefined, { key: quietKey }));
        await sleep(250);
      }
    };
    await Promise.all([blast(), blast(), blast(), blast(), steady()]);
    const windows = Math.floor(Date.now() / 60_000) - windowAtStart + 1;

    const limited = noisy.filter((a) => a.status === 429);
    const accepted = noisy.filter((a) => a.status === 201);
    const badLimited = limited.filter((a) => {
      const retryAfter = Number(a.headers?.get('retry-after'));
      return !(retryAfter >= 1 && retryAfter <= 60) || (a.body as { error?: string })?.error !== 'RATE_LIMITED';
    });
    const stored = await cluster!.query<{ id: string }>('SELECT id FROM runs WHERE id = ANY($1::uuid[])', [noisy.map((a) => a.runId)]);
    const storedIds = new Set(stored.map((r) => r.id));
    const limitedButStored = limited.filter((a) => storedIds.has(a.runId));
    const acceptedMissing = accepted.filter((a) => !storedIds.has(a.runId));
    const calmMs = calm.map((a) => a.ms);

    report(`rate limit (XRAY_RATE_LIMIT=${LIMIT} per minute per key)`, [
      ['noisy key', `${noisy.length} requests in 8 s from 4 clients: ${JSON.stringify(countBy(noisy, (a) => a.status))}`],
      ['accepted within the limit', `${accepted.length} (limit ${LIMIT} x ${windows} minute window(s))`],
      ['429 without a sane Retry-After / code', badLimited.length],
      ['429 answers that wrote anyway', limitedButStored.length],
      ['accepted but missing', acceptedMissing.length],
      [
        'quiet key (same project)',
        `${calm.length} requests: ${JSON.stringify(countBy(calm, (a) => a.status))}, p50 ${percentile(calmMs, 50)} ms, p99 ${percentile(calmMs, 99)} ms`,
      ],
    ]);

    expect(limited.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThanOrEqual(LIMIT * windows);
    expect(noisy.filter((a) => a.status !== 201 && a.status !== 429)).toEqual([]);
    expect(badLimited).toEqual([]);
    expect(limitedButStored).toEqual([]);
    expect(acceptedMissing).toEqual([]);
    expect(calm.filter((a) => a.status !== 200 && a.status !== 201).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(api.unexpectedErrors()).toEqual([]);
  }, 120_000);
});
