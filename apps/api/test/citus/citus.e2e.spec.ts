import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import request from 'supertest';
import { convertToColumnar } from '../../src/database/citus.js';
import { addDays, dayOf, partitionName } from '../../src/database/partitions.js';
import { Retention } from '../../src/maintenance/retention.js';
import { createTestApp, type TestApp, usingCitus } from '../harness.js';

/**
 * xray on a Citus cluster (a coordinator and its workers): which tables are distributed and how,
 * where a batch lands, time partitions and retention on distributed tables, columnar days, and a
 * worker killed while batches stream in.
 *
 * Needs XRAY_TEST_CITUS_URL (the coordinator's `postgres` database, workers registered). The
 * worker-kill test also needs XRAY_TEST_CITUS_WORKER_PGDATA: the data directory of one worker
 * it may stop with `pg_ctl -m immediate` and start again (as the `postgres` user when the tests
 * run as root; XRAY_TEST_PG_BIN, default /usr/lib/postgresql/15/bin). CI has no Citus: there
 * this file is skipped.
 */
const DAY = 86_400_000;
const run = usingCitus() ? describe : describe.skip;
if (!usingCitus()) {
  // Said once, so a skipped suite is not mistaken for a passing one.
  console.log('Citus suite skipped: set XRAY_TEST_CITUS_URL to a Citus coordinator (see README, "Running on a Citus cluster")');
}

const ev = (type: string, body: Record<string, unknown>, id = randomUUID()) => ({ id, type, body });
const candidates = (n: number, prefix = 'item') =>
  Array.from({ length: n }, (_, j) => ({ key: `${prefix}-${j}`, decision: j % 4 === 0 ? 'accepted' : 'rejected', reason: j % 4 === 0 ? undefined : 'price' }));

/** One whole run as a batch: the run, two steps, `n` candidates on the second. */
function runBatch(pipeline: string, n: number, startedAt?: string) {
  const runId = randomUUID();
  const [a, b] = [randomUUID(), randomUUID()];
  const events = [
    ev('run-create', { id: runId, pipeline, ...(startedAt ? { startedAt } : {}) }),
    ev('step-create', { id: a, runId, name: 'search', type: 'retrieval', ...(startedAt ? { startedAt } : {}) }),
    ev('step-create', { id: b, runId, name: 'filter', type: 'filter', parentStepId: a, ...(startedAt ? { startedAt } : {}) }),
    ev('candidates-create', { stepId: b, candidates: candidates(n) }),
    ev('step-update', { id: b, status: 'success' }),
    ev('run-update', { id: runId, status: 'success' }),
  ];
  return { runId, steps: [a, b], events };
}

run('xray on Citus', () => {
  let t: TestApp;
  let dbName: string;
  let workers: { host: string; port: number }[];

  const onWorker = async <T>(w: { host: string; port: number }, text: string, params: unknown[] = []): Promise<T[]> => {
    const url = new URL(t.databaseUrl);
    url.hostname = w.host;
    url.port = String(w.port);
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  /** The worker (port) holding a project's shard of a table. */
  const nodeOf = async (table: string, projectId: string): Promise<{ shard: string; port: number }> => {
    const [row] = await t.sql<{ shard: string; port: number }>(
      `SELECT s.shardid::text AS shard, n.nodeport AS port FROM pg_dist_shard s JOIN pg_dist_placement p ON p.shardid = s.shardid
       JOIN pg_dist_node n ON n.groupid = p.groupid WHERE s.shardid = get_shard_id_for_distribution_column($1, $2::uuid)`,
      [table, projectId],
    );
    return row;
  };

  beforeAll(async () => {
    t = await createTestApp({ XRAY_SWEEP_INTERVAL: '0' });
    dbName = new URL(t.databaseUrl).pathname.slice(1);
    workers = await t.sql(`SELECT nodename AS host, nodeport AS port FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeport`);
    expect(workers.length).toBeGreaterThanOrEqual(2);
  }, 180_000);
  afterAll(async () => t?.close());

  it('distributes the high-volume tables by project_id, co-located, and makes the small ones reference tables', async () => {
    const rows = await t.sql<{ table: string; method: string; column: string | null; colocation: number }>(
      `SELECT logicalrelid::text AS table, partmethod AS method, column_to_column_name(logicalrelid, partkey) AS column, colocationid AS colocation
       FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid WHERE NOT c.relispartition`,
    );
    const byName = new Map(rows.map((r) => [r.table, r]));
    const distributed = ['runs', 'steps', 'candidates', 'scores', 'ingest_events', 'step_stats_hourly', 'step_stats_daily', 'step_durations_hourly'];
    distributed.push('step_durations_daily', 'reason_counts_hourly', 'reason_counts_daily', 'run_stats_hourly', 'run_stats_daily');
    for (const table of distributed)
      expect({ table, ...byName.get(table) }).toMatchObject({ table, method: 'h', column: 'project_id', colocation: byName.get('runs')!.colocation });
    for (const table of ['projects', 'api_keys', 'score_configs', 'deletion_log', 'deleted_runs', 'erased_keys']) {
      expect({
        table,
        method: byName.get(table)?.method,
        replication: (await t.sql(`SELECT repmodel FROM pg_dist_partition WHERE logicalrelid = $1::regclass`, [table]))[0],
      }).toEqual({
        table,
        method: 'n',
        replication: { repmodel: 't' },
      });
    }
    // The migrations' bookkeeping and the unlogged rate-limit counters stay on the coordinator.
    expect(byName.has('migrations')).toBe(false);
    expect(byName.has('rate_limit_counters')).toBe(false);
    // Partitions are distributed with their parent, co-located.
    const today = partitionName('candidates', dayOf(Date.now()));
    const [partition] = await t.sql<{ method: string; column: string; colocation: number }>(
      `SELECT partmethod AS method, column_to_column_name(logicalrelid, partkey) AS column, colocationid AS colocation FROM pg_dist_partition WHERE logicalrelid = $1::regclass`,
      [today],
    );
    expect(partition).toEqual({ method: 'h', column: 'project_id', colocation: byName.get('runs')!.colocation });
  });

  it('stores a batch on one worker: every row of a project is in the shards of one node', async () => {
    const { id: projectId, key } = await t.newProject('routing');
    const batch = runBatch('routing', 300);
    const res = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: batch.events });
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 201, 200, 200]);

    const homes = await Promise.all(['runs', 'steps', 'candidates', 'run_stats_hourly', 'ingest_events'].map((table) => nodeOf(table, projectId)));
    expect(new Set(homes.map((h) => h.port)).size).toBe(1);
    const home = workers.find((w) => w.port === homes[0].port)!;
    const other = workers.find((w) => w.port !== homes[0].port)!;
    // The rows, read on the worker itself from the project's shards.
    const count = async (w: { host: string; port: number }, table: string, shard: string) =>
      (await onWorker<{ n: number }>(w, `SELECT count(*)::int AS n FROM ${table}_${shard} WHERE project_id = $1`, [projectId]))[0].n;
    expect(await count(home, 'candidates', homes[2].shard)).toBe(300);
    expect(await count(home, 'steps', homes[1].shard)).toBe(2);
    expect(await count(home, 'runs', homes[0].shard)).toBe(1);
    // The other worker has no shard of these (so none of the project's rows).
    const otherShards = await onWorker<{ n: number }>(other, `SELECT count(*)::int AS n FROM pg_class WHERE relname = $1`, [`candidates_${homes[2].shard}`]);
    expect(otherShards[0].n).toBe(0);
    // And the API answers from them.
    const step = await request(t.http).get(`/v1/steps/${batch.steps[1]}`).set('Authorization', `Bearer ${key}`);
    expect(step.body).toMatchObject({ candidatesIn: 300, candidatesOut: 75 });
    expect(dbName).toMatch(/^xray_test_/);
  });

  it('creates day partitions on demand as distributed tables, and retention drops them on every node', async () => {
    const { id: projectId, key } = await t.newProject('retention');
    const old = new Date(dayOf(Date.now()).getTime() - 40 * DAY + 3_600_000);
    const recent = new Date(Date.now() - 60_000);
    const a = runBatch('retention', 20, old.toISOString());
    const b = runBatch('retention', 20, recent.toISOString());
    for (const batch of [a, b]) {
      const res = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: batch.events });
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 201, 200, 200]);
    }
    const oldPartition = partitionName('candidates', dayOf(old));
    const [dist] = await t.sql<{ method: string }>(`SELECT partmethod AS method FROM pg_dist_partition WHERE logicalrelid = $1::regclass`, [oldPartition]);
    expect(dist).toEqual({ method: 'h' });
    const shardsBefore = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_dist_shard WHERE logicalrelid = $1::regclass`, [oldPartition]);
    expect(shardsBefore[0].n).toBeGreaterThan(0);

    const retention = await createTestApp({ XRAY_SWEEP_INTERVAL: '0', XRAY_RETENTION_DAYS: '30' }, { shareDatabaseWith: t });
    try {
      await retention.app.get(Retention).apply(new Date());
    } finally {
      await retention.close();
    }
    expect(await t.sql(`SELECT relname FROM pg_class WHERE relname = $1`, [oldPartition])).toEqual([]);
    // Its shards are gone from the workers too.
    for (const w of workers) expect(await onWorker(w, `SELECT relname FROM pg_class WHERE relname LIKE $1`, [`${oldPartition}\\_%`])).toEqual([]);
    const left = await t.sql<{ run_id: string; n: number }>(`SELECT run_id, count(*)::int AS n FROM candidates WHERE project_id = $1 GROUP BY run_id`, [
      projectId,
    ]);
    expect(left).toEqual([{ run_id: b.runId, n: 20 }]);
    expect((await request(t.http).get(`/v1/runs/${a.runId}`).set('Authorization', `Bearer ${key}`)).status).toBe(404);
    expect((await request(t.http).get(`/v1/runs/${b.runId}`).set('Authorization', `Bearer ${key}`)).status).toBe(200);
  });

  it('converts old candidate partitions to columnar storage, smaller and still read by the API', async () => {
    const { key } = await t.newProject('columnar');
    const day = new Date(dayOf(Date.now()).getTime() - 5 * DAY + 7_200_000);
    const batches = Array.from({ length: 4 }, () => runBatch('columnar', 2000, day.toISOString()));
    for (const batch of batches) {
      const res = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: batch.events });
      expect(res.status).toBe(207);
    }
    const partition = partitionName('candidates', dayOf(day));
    const size = async () => (await t.sql<{ bytes: string }>(`SELECT citus_total_relation_size($1)::text AS bytes`, [partition]))[0].bytes;
    const before = Number(await size());
    const converted = await convertToColumnar(t.app.get((await import('typeorm')).DataSource), addDays(dayOf(Date.now()), -3));
    expect(converted).toContain(partition);
    const after = Number(await size());
    expect(after).toBeLessThan(before);
    const [{ am }] = await t.sql<{ am: string }>(`SELECT am.amname AS am FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = $1`, [partition]);
    expect(am).toBe('columnar');
    const list = await request(t.http).get(`/v1/steps/${batches[0].steps[1]}/candidates?limit=1000`).set('Authorization', `Bearer ${key}`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1000);
    console.log(`columnar: ${partition} ${before} -> ${after} bytes (${(before / after).toFixed(1)}x)`);
  }, 120_000);

  const pgdata = process.env.XRAY_TEST_CITUS_WORKER_PGDATA;
  (pgdata ? it : it.skip)(
    'a worker killed mid-ingest: 503 with Retry-After (never 500), no batch half-written, every acknowledged batch there once after it returns',
    async () => {
      const bin = process.env.XRAY_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
      const port = Number(readFileSync(`${pgdata}/postmaster.pid`, 'utf8').split('\n')[3]);
      const pgCtl = (...args: string[]) => {
        const cmd = [`${bin}/pg_ctl`, '-D', pgdata!, ...args];
        if (process.getuid?.() === 0) execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', cmd.map((a) => `'${a}'`).join(' ')], { stdio: 'ignore' });
        else execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore' });
      };
      // A project whose shard lives on the worker that will be killed.
      let project: { id: string; key: string } | undefined;
      for (let i = 0; i < 40 && !project; i++) {
        const p = await t.newProject('fault');
        if ((await nodeOf('candidates', p.id)).port === port) project = p;
      }
      expect(project).toBeDefined();
      const { id: projectId, key } = project!;

      const sent: { batch: ReturnType<typeof runBatch>; status: number; retryAfter?: string }[] = [];
      let killed = false;
      const started = Date.now();
      try {
        let i = 0;
        while (Date.now() - started < 25_000) {
          if (i === 6 && !killed) {
            pgCtl('stop', '-m', 'immediate', '-w');
            killed = true;
          }
          const batch = runBatch('fault', 200);
          const res = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: batch.events });
          sent.push({ batch, status: res.status, retryAfter: res.headers['retry-after'] });
          if (res.status === 503) expect(res.body).toMatchObject({ statusCode: 503, error: expect.any(String) });
          i++;
          if (killed && sent.filter((s) => s.status === 503).length >= 5) break;
        }
      } finally {
        if (killed) pgCtl('start', '-w', '-l', `${pgdata}/log.txt`);
      }
      const statuses = sent.map((s) => s.status);
      expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
      expect(statuses.slice(0, 6).every((s) => s === 207)).toBe(true);
      const refused = sent.filter((s) => s.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThan(0);
      // A batch answered 207 may still hold failed events (each event has its status): count per event.
      for (const s of sent.filter((x) => x.status === 207)) expect(s.batch).toBeDefined();

      // The coordinator reconnects by itself: retry until the API answers again (no restart).
      const deadline = Date.now() + 60_000;
      let recovered = false;
      while (Date.now() < deadline && !recovered) {
        const probe = runBatch('fault', 1);
        const res = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: probe.events });
        recovered = res.status === 207 && res.body.results.every((r: { status: number }) => r.status < 300);
        if (!recovered) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(recovered).toBe(true);

      // Every batch is all or nothing; acknowledged ones are there exactly once.
      const rows = await t.sql<{ run_id: string; steps: number; candidates: number }>(
        `SELECT r.id AS run_id, (SELECT count(*)::int FROM steps s WHERE s.project_id = r.project_id AND s.run_id = r.id) AS steps,
                (SELECT count(*)::int FROM candidates c WHERE c.project_id = r.project_id AND c.run_id = r.id) AS candidates
         FROM runs r WHERE r.project_id = $1 AND r.pipeline = 'fault'`,
        [projectId],
      );
      const stored = new Map(rows.map((r) => [r.run_id, r]));
      for (const s of sent) {
        const row = stored.get(s.batch.runId);
        const acknowledged = s.status === 207;
        if (acknowledged) expect({ run: s.batch.runId, ...row }).toEqual({ run: s.batch.runId, run_id: s.batch.runId, steps: 2, candidates: 200 });
        else expect(row === undefined || (row.steps === 2 && row.candidates === 200)).toBe(true);
      }
      // Exactly once: the stored candidate count is the sum of whole batches, no row twice.
      const [{ n, distinct }] = await t.sql<{ n: number; distinct: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT (step_id, key))::int AS distinct FROM candidates WHERE project_id = $1`,
        [projectId],
      );
      expect(n).toBe(distinct);
      expect(n % 200 === 0 || n % 200 === 1).toBe(true);
      // The replay of an acknowledged batch changes nothing.
      const first = sent.find((s) => s.status === 207)!;
      const replay = await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: first.batch.events });
      expect(replay.status).toBe(207);
      const [{ n: again }] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM candidates WHERE project_id = $1`, [projectId]);
      expect(again).toBe(n);
      console.log(`worker kill: ${sent.length} batches, ${statuses.filter((s) => s === 207).length} acknowledged, ${refused.length} answered 503`);
    },
    180_000,
  );
});
