/**
 * The distribution column on a Citus cluster, measured: the same data and the same statements
 * with the high-volume tables hashed by `project_id` (a project lives on one worker) and by
 * `run_id` (a project's runs spread over every worker), and the compression of candidates in
 * Citus's columnar storage.
 *
 *   XRAY_BENCH_CITUS_URL=postgres://postgres@127.0.0.1:9700/postgres npm run bench:citus [-- --runs 300 --candidates 500 --clients 4]
 *
 * For each distribution column it creates a fresh database on the coordinator and every worker
 * (citus extension, workers registered), with the tables' shapes (runs, candidates with their
 * primary keys, partitioned by the run's start day), then:
 * - writes: batches of one run and its candidates (one transaction, the candidates as one
 *   jsonb_to_recordset upsert like the API's statement), from `--clients` connections, into one
 *   large project and spread over 50 projects;
 * - reads: a project's latest 50 runs, a run's candidates (1,000 in key order), a project's
 *   rejection reasons counted over all its candidates (the analytics shape), p50 and p95.
 * Then converts the candidates to columnar (project_id layout) and prints the sizes.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '240' },
    candidates: { type: 'string', default: '500' },
    clients: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '30' },
  },
});
const RUNS = Number(values.runs);
const PER_RUN = Number(values.candidates);
const CLIENTS = Number(values.clients);
const ROUNDS = Number(values.rounds);
const coordinator = process.env.XRAY_BENCH_CITUS_URL ?? 'postgres://postgres@127.0.0.1:9700/postgres';

const withDb = (url: string, db: string, port?: number) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  if (port) u.port = String(port);
  return u.toString();
};
async function on<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function createDatabase(name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const workers = await on(
    coordinator,
    async (c) => (await c.query<{ port: number }>(`SELECT nodeport AS port FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeport`)).rows,
  );
  const nodes = [undefined, ...workers.map((w) => w.port)];
  for (const port of nodes) {
    await on(withDb(coordinator, 'postgres', port), (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    await on(withDb(coordinator, 'postgres', port), (c) => c.query(`CREATE DATABASE ${name}`));
    await on(withDb(coordinator, name, port), (c) => c.query(`CREATE EXTENSION citus`));
  }
  const host = new URL(coordinator);
  await on(withDb(coordinator, name), async (c) => {
    await c.query(`SELECT citus_set_coordinator_host($1, $2)`, [host.hostname, Number(host.port || 5432)]);
    for (const w of workers) await c.query(`SELECT citus_add_node($1, $2)`, [host.hostname, w.port]);
  });
  return {
    url: withDb(coordinator, name),
    drop: async () => {
      for (const port of nodes) await on(withDb(coordinator, 'postgres', port), (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

const DAY0 = Date.UTC(2026, 10, 1);

async function schema(c: pg.Client, column: 'project_id' | 'run_id'): Promise<void> {
  await c.query(`
    CREATE TABLE runs (project_id uuid NOT NULL, id uuid NOT NULL, pipeline text NOT NULL, status text NOT NULL, started_at timestamptz(3) NOT NULL,
      metadata jsonb, PRIMARY KEY (project_id, id))`);
  await c.query(`CREATE INDEX ON runs (project_id, started_at, id)`);
  await c.query(`
    CREATE TABLE candidates (project_id uuid NOT NULL, run_id uuid NOT NULL, step_id uuid NOT NULL, run_started_at timestamptz(3) NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(), score double precision, rank integer, key text NOT NULL, decision text NOT NULL,
      reason text, evaluations jsonb, data jsonb, PRIMARY KEY (project_id, step_id, key, run_id, run_started_at)) PARTITION BY RANGE (run_started_at)`);
  await c.query(`CREATE INDEX ON candidates (project_id, key)`);
  for (let d = 0; d < 3; d++) {
    const from = new Date(DAY0 + d * 86_400_000).toISOString();
    const to = new Date(DAY0 + (d + 1) * 86_400_000).toISOString();
    await c.query(`CREATE TABLE candidates_d${d} PARTITION OF candidates FOR VALUES FROM ('${from}') TO ('${to}')`);
  }
  // runs is hashed by its id in the run_id layout (the column its primary key carries).
  await c.query(`SELECT create_distributed_table('runs', $1, shard_count => 32)`, [column === 'run_id' ? 'id' : 'project_id']);
  await c.query(`SELECT create_distributed_table('candidates', $1, colocate_with => 'runs')`, [column]);
}

interface Batch {
  project: string;
  run: string;
  step: string;
  startedAt: string;
  rows: string;
}
function makeBatch(project: string, i: number): Batch {
  const run = randomUUID();
  const startedAt = new Date(DAY0 + (i % 3) * 86_400_000 + (i % 86_000) * 1000).toISOString();
  const rows = Array.from({ length: PER_RUN }, (_, j) => ({
    key: `B0${String(j).padStart(8, '0')}`,
    decision: j % 10 === 0 ? 'accepted' : 'rejected',
    score: ((j * 7919) % 1000) / 1000,
    rank: j,
    reason: j % 10 === 0 ? null : ['price above $50', 'rating below 4', 'out of stock', 'category mismatch'][j % 4],
    evaluations: { price: { value: 10 + (j % 90), passed: j % 3 === 0 }, rating: { value: 3 + (j % 20) / 10, passed: j % 2 === 0 } },
    data: { title: `Stainless steel water bottle ${j}`, brand: ['Acme', 'Hydra', 'Klean'][j % 3], price: 10 + (j % 90), reviews: j * 13 },
  }));
  return { project, run, step: randomUUID(), startedAt, rows: JSON.stringify(rows) };
}

async function writeBatch(c: pg.Client, b: Batch): Promise<void> {
  await c.query('BEGIN');
  await c.query(`INSERT INTO runs (project_id, id, pipeline, status, started_at) VALUES ($1, $2, 'bench', 'success', $3)`, [b.project, b.run, b.startedAt]);
  await c.query(
    `INSERT INTO candidates (project_id, run_id, step_id, run_started_at, key, decision, score, rank, reason, evaluations, data)
     SELECT $1::uuid, $2::uuid, $3::uuid, $4::timestamptz, x.key, x.decision, x.score, x.rank, x.reason, x.evaluations, x.data
     FROM jsonb_to_recordset($5::jsonb) AS x(key text, decision text, score double precision, rank integer, reason text, evaluations jsonb, data jsonb)
     ON CONFLICT (project_id, step_id, key, run_id, run_started_at) DO UPDATE SET decision = EXCLUDED.decision`,
    [b.project, b.run, b.step, b.startedAt, b.rows],
  );
  await c.query('COMMIT');
}

async function writeAll(url: string, batches: Batch[]): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (next < batches.length) await writeBatch(c, batches[next++]);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return (batches.length * PER_RUN) / seconds;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
async function timed(c: pg.Client, text: string, params: () => unknown[]): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 3; i++) await c.query(text, params());
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await c.query(text, params());
    ms.push(performance.now() - t0);
  }
  return { p50: pct(ms, 50), p95: pct(ms, 95) };
}

async function measure(column: 'project_id' | 'run_id') {
  const db = await createDatabase(`xray_bench_citus_${column}`);
  try {
    await on(db.url, (c) => schema(c, column));
    const big = randomUUID();
    const many = Array.from({ length: 50 }, () => randomUUID());
    const oneProject = Array.from({ length: RUNS }, (_, i) => makeBatch(big, i));
    const spread = Array.from({ length: RUNS }, (_, i) => makeBatch(many[i % many.length], i));
    const writeBig = await writeAll(db.url, oneProject);
    const writeMany = await writeAll(db.url, spread);
    const reads = await on(db.url, async (c) => {
      await c.query('ANALYZE runs');
      await c.query('ANALYZE candidates');
      const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
      const latest = `SELECT id, status, started_at FROM runs WHERE project_id = $1 ORDER BY started_at DESC, id DESC LIMIT 50`;
      const runCandidates = `SELECT key, decision, reason FROM candidates WHERE project_id = $1 AND run_id = $2 AND step_id = $3 ORDER BY key LIMIT 1000`;
      const reasons = `SELECT reason, count(*) FROM candidates WHERE project_id = $1 AND decision = 'rejected' GROUP BY reason ORDER BY 2 DESC`;
      return {
        latestBig: await timed(c, latest, () => [big]),
        latestMany: await timed(c, latest, () => [pick(many)]),
        runBig: await timed(c, runCandidates, () => {
          const b = pick(oneProject);
          return [b.project, b.run, b.step];
        }),
        reasonsBig: await timed(c, reasons, () => [big]),
        reasonsMany: await timed(c, reasons, () => [pick(many)]),
      };
    });
    let columnar: { heap: number; columnar: number } | undefined;
    if (column === 'project_id') {
      columnar = await on(db.url, async (c) => {
        const size = async () =>
          Number(
            (await c.query(`SELECT sum(citus_total_relation_size(inhrelid))::bigint AS b FROM pg_inherits WHERE inhparent = 'candidates'::regclass`)).rows[0].b,
          );
        const heap = await size();
        await c.query('CREATE EXTENSION IF NOT EXISTS citus_columnar');
        for (let d = 0; d < 3; d++) await c.query(`SELECT alter_table_set_access_method('candidates_d${d}', 'columnar')`);
        return { heap, columnar: await size() };
      });
    }
    return { column, writeBig, writeMany, ...reads, columnar };
  } finally {
    await db.drop();
  }
}

const results: Awaited<ReturnType<typeof measure>>[] = [];
for (const column of ['project_id', 'run_id'] as const) {
  console.error(`measuring ${column}…`);
  results.push(await measure(column));
  console.error(JSON.stringify(results.at(-1)));
}
const f = (x: { p50: number; p95: number }) => `${x.p50.toFixed(1)} / ${x.p95.toFixed(1)}`;
console.log(`\n${RUNS} runs x ${PER_RUN} candidates per scenario, ${CLIENTS} writers, ${ROUNDS} rounds per query (ms p50 / p95)\n`);
console.log('| | by project_id | by run_id |');
console.log('| --- | --- | --- |');
const row = (label: string, get: (r: (typeof results)[number]) => string) => console.log(`| ${label} | ${results.map(get).join(' | ')} |`);
row('candidate writes, one project (rows/s)', (r) => Math.round(r.writeBig).toLocaleString('en'));
row('candidate writes, 50 projects (rows/s)', (r) => Math.round(r.writeMany).toLocaleString('en'));
row("a project's latest 50 runs, large project", (r) => f(r.latestBig));
row("a project's latest 50 runs, small project", (r) => f(r.latestMany));
row("a run's candidates (1,000 by key)", (r) => f(r.runBig));
row("a project's rejection reasons, large project", (r) => f(r.reasonsBig));
row("a project's rejection reasons, small project", (r) => f(r.reasonsMany));
const col = results[0].columnar!;
console.log(
  `\ncandidates heap ${(col.heap / 1e6).toFixed(1)} MB -> columnar ${(col.columnar / 1e6).toFixed(1)} MB (${(col.heap / col.columnar).toFixed(1)}x smaller)`,
);
