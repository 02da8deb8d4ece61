/**
 * Benchmark 1, candidate ingest: 100,000 candidates in 5,000-candidate requests through
 * POST /v1/steps/:id/candidates, against two baselines in the same database, same rows (same
 * step ids, keys and values):
 * - the physical limit: COPY into a bare table holding the candidate's own fields with only a
 *   primary key on (step_id, key); target: the API reaches at least 60% of its rows per second;
 * - COPY into a table of the `candidates` table's own shape (same columns, defaults, checks,
 *   indexes and foreign keys), which shows what the table's design costs by itself.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { startApi } from './lib/api.js';
import { createDatabase } from './lib/database.js';
import { printProfile, summarizeProfile } from './lib/profile.js';
import { type BenchContext, type ComparisonResult, fmtNumber, printComparisons } from './lib/report.js';

export interface CandidatesFigures {
  comparisons: ComparisonResult[];
  apiRowsPerSecond: number[];
  copyRowsPerSecond: number[];
  bareRowsPerSecond: number[];
  /** The API's peak resident memory over the whole benchmark (MiB). */
  apiPeakRssMiB: number;
  apiIdleRssMiB: number;
}

const REASONS = ['price above $50', 'rating below 4', 'wrong category', 'out of stock'];

/** The candidates of one request, as a pipeline's filter step would report them. */
export function makeCandidates(prefix: string, count: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const kept = i % 5 === 0;
    const price = 10 + ((i * 37) % 190);
    out.push({
      key: `${prefix}-${i}`,
      decision: kept ? 'accepted' : 'rejected',
      score: Math.round(((i * 7919) % 1000) / 10) / 100,
      ...(kept ? {} : { reason: REASONS[i % REASONS.length] }),
      evaluations: [
        { check: 'price', passed: price <= 50 || kept, detail: `$${price} vs $50` },
        { check: 'rating', passed: kept || i % 3 === 0 },
      ],
      data: { title: `Laptop stand ${i}`, price, rating: 3 + (i % 20) / 10 },
    });
  }
  return out;
}

/** One COPY text-format field. */
export function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** COPY text rows of the candidates, each led by `lead` (the ids the target table needs). */
function copyText(lead: unknown[], candidates: Record<string, unknown>[]): string {
  let out = '';
  for (const c of candidates) {
    out += [...lead, c.key, c.decision, c.score, c.rank, c.reason, c.evaluations, c.data].map(copyField).join('\t') + '\n';
  }
  return out;
}

const PAYLOAD_COLUMNS = 'key, decision, score, rank, reason, evaluations, data';

async function post(url: string, key: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Runs `tasks` with at most `concurrency` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]();
      }
    }),
  );
  return results;
}

export async function benchCandidates(ctx: BenchContext): Promise<CandidatesFigures> {
  const { log } = ctx;
  const total = ctx.smoke ? 400 : 100_000;
  const perRequest = ctx.smoke ? 100 : 5_000;
  const roundCount = ctx.rounds ?? (ctx.smoke ? 1 : 5);
  const concurrency = 2;
  const db = await createDatabase(ctx.adminUrl, 'cand');
  const api = await startApi({ databaseUrl: db.url, mode: ctx.mode, env: { XRAY_RATE_LIMIT: '0' }, profile: ctx.profile });
  const client = new pg.Client({ connectionString: db.url });
  try {
    const idle = api.memory();
    const key = await api.newProject('bench-candidates');
    await client.connect();
    const { json: run } = await post(`${api.baseUrl}/v1/runs`, key, JSON.stringify({ pipeline: 'bench-candidates' }));
    const runId = run.id as string;
    const [{ project_id: projectId, started_at: runStartedAt }] = (await client.query('SELECT project_id, started_at FROM runs WHERE id = $1', [runId])).rows;

    // The physical limit: the candidate's own fields, only the (step_id, key) key.
    await client.query(`CREATE TABLE candidates_bare (
      step_id uuid NOT NULL, key text NOT NULL, decision text NOT NULL, score double precision, rank integer,
      reason text, evaluations jsonb, data jsonb, PRIMARY KEY (step_id, key))`);
    // Today's shape: the candidates table's columns, defaults, checks and indexes (partitions
    // included, so the copy's rows land in the same kind of storage), plus its foreign keys.
    const shape = await tableShape(client, 'candidates');
    await client.query(shape.create('candidates_copy'));
    for (const statement of shape.after('candidates_copy')) await client.query(statement);

    /** Steps and request bodies of one round, built before the clock starts. */
    const prepare = async (label: string, rows: number) => {
      const requests: { stepId: string; candidates: Record<string, unknown>[]; body: string }[] = [];
      for (let i = 0; i * perRequest < rows; i++) {
        const { status, json } = await post(`${api.baseUrl}/v1/runs/${runId}/steps`, key, JSON.stringify({ name: `filter-${label}-${i}`, type: 'filter' }));
        if (status !== 201) throw new Error(`creating a step failed: ${status} ${JSON.stringify(json)}`);
        const candidates = makeCandidates(`${label}-${i}`, Math.min(perRequest, rows - i * perRequest));
        requests.push({ stepId: json.id as string, candidates, body: JSON.stringify({ candidates }) });
      }
      return requests;
    };

    const viaApi = async (requests: Awaited<ReturnType<typeof prepare>>) => {
      const started = performance.now();
      await pool(
        requests.map((r) => async () => {
          const res = await post(`${api.baseUrl}/v1/steps/${r.stepId}/candidates`, key, r.body);
          if (res.status !== 201 || res.json.stored !== r.candidates.length)
            throw new Error(`candidate batch failed: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
        }),
        concurrency,
      );
      return performance.now() - started;
    };

    const copyInto = async (table: string, lead: string, requests: Awaited<ReturnType<typeof prepare>>, leadValues: (stepId: string) => unknown[]) => {
      const chunks = requests.map((r) => Buffer.from(copyText(leadValues(r.stepId), r.candidates)));
      const started = performance.now();
      await pipeline(Readable.from(chunks), client.query(copyStreams.from(`COPY ${table} (${lead}, ${PAYLOAD_COLUMNS}) FROM STDIN`)));
      return performance.now() - started;
    };
    const viaCopy = (requests: Awaited<ReturnType<typeof prepare>>) =>
      copyInto('candidates_copy', shape.leadColumns, requests, (stepId) => shape.leadValues({ projectId, runId, stepId, runStartedAt }));
    const viaBare = (requests: Awaited<ReturnType<typeof prepare>>) => copyInto('candidates_bare', 'step_id', requests, (stepId) => [stepId]);

    // Warm-up: JIT, caches, connections.
    const warm = await prepare('warm', Math.min(total, perRequest * 4));
    await viaApi(warm);
    await viaCopy(warm);
    await viaBare(warm);

    const apiRates: number[] = [];
    const copyRates: number[] = [];
    const bareRates: number[] = [];
    for (let r = 0; r < roundCount; r++) {
      const requests = await prepare(`r${r}`, total);
      await client.query('CHECKPOINT'); // neither side pays for the other's dirty pages
      const profiling = api.profiler && r === roundCount - 1;
      if (profiling) await api.profiler!.start();
      const apiMs = await viaApi(requests);
      if (profiling) printProfile(log, summarizeProfile(await api.profiler!.stop()));
      await client.query('CHECKPOINT');
      const copyMs = await viaCopy(requests);
      await client.query('CHECKPOINT');
      const bareMs = await viaBare(requests);
      apiRates.push(total / (apiMs / 1000));
      copyRates.push(total / (copyMs / 1000));
      bareRates.push(total / (bareMs / 1000));
      const rate = (ms: number) => `${fmtNumber(total / (ms / 1000))} rows/s (${ms.toFixed(0)} ms)`;
      log(`  round ${r + 1}/${roundCount}: API ${rate(apiMs)}, COPY bare table ${rate(bareMs)}, COPY candidates' shape ${rate(copyMs)}`);
    }
    const [{ api: apiRows, copy: copyRows, bare: bareRows }] = (
      await client.query(`SELECT (SELECT count(*) FROM candidates)::int AS api, (SELECT count(*) FROM candidates_copy)::int AS copy,
        (SELECT count(*) FROM candidates_bare)::int AS bare`)
    ).rows;
    if (apiRows !== copyRows || apiRows !== bareRows) throw new Error(`row counts differ: API stored ${apiRows}, COPY ${copyRows} and ${bareRows}`);

    const peak = api.memory().peakRssMiB;
    log(`${fmtNumber(total)} candidates per round in ${perRequest}-candidate requests, ${concurrency} in flight; ${roundCount} rounds`);
    const comparisons = printComparisons(log, [
      {
        metric: 'API POST /v1/steps/:id/candidates',
        unit: 'rows/s',
        values: apiRates,
        baseline: 'COPY, bare (step_id, key) table',
        baselineValues: bareRates,
        higherIsBetter: true,
        targetRatio: 0.6,
      },
      {
        metric: 'API POST /v1/steps/:id/candidates',
        unit: 'rows/s',
        values: apiRates,
        baseline: "COPY, candidates' own shape",
        baselineValues: copyRates,
        higherIsBetter: true,
      },
    ]);
    log(`API resident memory: ${idle.rssMiB.toFixed(0)} MiB idle, peak ${peak.toFixed(0)} MiB`);
    return {
      comparisons,
      apiRowsPerSecond: apiRates,
      copyRowsPerSecond: copyRates,
      bareRowsPerSecond: bareRates,
      apiPeakRssMiB: peak,
      apiIdleRssMiB: idle.rssMiB,
    };
  } finally {
    await client.end().catch(() => undefined);
    await api.stop();
    await db.drop();
  }
}

/**
 * The candidates table's shape, to copy into a twin table: its columns, defaults, checks and
 * indexes (a partitioned table's twin is partitioned the same way, with the same partitions),
 * its foreign keys, and the id columns a COPY row leads with.
 */
async function tableShape(client: pg.Client, table: string) {
  const { rows: fks } = await client.query<{ def: string }>(
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`,
    [table],
  );
  const { rows: parts } = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = $1::regclass`,
    [table],
  );
  const { rows: cols } = await client.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [table],
  );
  const { rows: key } = await client.query<{ def: string | null }>(`SELECT pg_get_partkeydef($1::regclass) AS def`, [table]);
  const partitionKey = key[0]?.def;
  const has = (c: string) => cols.some((x) => x.name === c);
  const lead = ['project_id', 'run_id', 'step_id', ...(has('run_started_at') ? ['run_started_at'] : [])];
  return {
    leadColumns: lead.join(', '),
    leadValues: (v: { projectId: string; runId: string; stepId: string; runStartedAt: Date }) => [
      v.projectId,
      v.runId,
      v.stepId,
      ...(has('run_started_at') ? [v.runStartedAt.toISOString()] : []),
    ],
    create: (twin: string) => `CREATE TABLE ${twin} (LIKE ${table} INCLUDING ALL)${partitionKey ? ` PARTITION BY ${partitionKey}` : ''}`,
    after: (twin: string) => [
      ...parts.map((p) => `CREATE TABLE ${twin}_${p.name} PARTITION OF ${twin} ${p.bound}`),
      ...fks.map((f) => `ALTER TABLE ${twin} ADD ${f.def}`),
    ],
  };
}
