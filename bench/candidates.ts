/**
 * Benchmark 1, candidate ingest: 100,000 candidates in 5,000-candidate requests through
 * POST /v1/steps/:id/candidates, against COPY of the same rows (same step ids, keys and
 * values) into a table of the same shape (same columns, defaults, checks, indexes and foreign
 * keys) in the same database. Target: the API reaches at least 60% of COPY's rows per second.
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
function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function copyText(projectId: string, runId: string, stepId: string, candidates: Record<string, unknown>[]): string {
  let out = '';
  for (const c of candidates) {
    out += [projectId, runId, stepId, c.key, c.decision, c.score, c.rank, c.reason, c.evaluations, c.data].map(copyField).join('\t') + '\n';
  }
  return out;
}

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
    const [{ project_id: projectId }] = (await client.query('SELECT project_id FROM runs WHERE id = $1', [runId])).rows;

    // The baseline table: candidates' exact shape (columns, identity, defaults, checks, indexes) plus its foreign keys.
    await client.query(`CREATE TABLE candidates_copy (LIKE candidates INCLUDING ALL)`);
    await client.query(`ALTER TABLE candidates_copy
      ADD FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE,
      ADD FOREIGN KEY (run_id) REFERENCES runs(id) ON DELETE CASCADE,
      ADD FOREIGN KEY (step_id) REFERENCES steps(id) ON DELETE CASCADE`);

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

    const viaCopy = async (requests: Awaited<ReturnType<typeof prepare>>) => {
      const chunks = requests.map((r) => Buffer.from(copyText(projectId, runId, r.stepId, r.candidates)));
      const started = performance.now();
      const stream = client.query(
        copyStreams.from('COPY candidates_copy (project_id, run_id, step_id, key, decision, score, rank, reason, evaluations, data) FROM STDIN'),
      );
      await pipeline(Readable.from(chunks), stream);
      return performance.now() - started;
    };

    // Warm-up: JIT, caches, connections.
    const warm = await prepare('warm', Math.min(total, perRequest * 4));
    await viaApi(warm);
    await viaCopy(warm);

    const apiRates: number[] = [];
    const copyRates: number[] = [];
    for (let r = 0; r < roundCount; r++) {
      const requests = await prepare(`r${r}`, total);
      await client.query('CHECKPOINT'); // neither side pays for the other's dirty pages
      const profiling = api.profiler && r === roundCount - 1;
      if (profiling) await api.profiler!.start();
      const apiMs = await viaApi(requests);
      if (profiling) printProfile(log, summarizeProfile(await api.profiler!.stop()));
      await client.query('CHECKPOINT');
      const copyMs = await viaCopy(requests);
      apiRates.push(total / (apiMs / 1000));
      copyRates.push(total / (copyMs / 1000));
      log(
        `  round ${r + 1}/${roundCount}: API ${fmtNumber(total / (apiMs / 1000))} rows/s (${apiMs.toFixed(0)} ms), COPY ${fmtNumber(total / (copyMs / 1000))} rows/s (${copyMs.toFixed(0)} ms)`,
      );
    }
    const [{ api: apiRows, copy: copyRows }] = (
      await client.query(`SELECT (SELECT count(*) FROM candidates)::int AS api, (SELECT count(*) FROM candidates_copy)::int AS copy`)
    ).rows;
    if (apiRows !== copyRows) throw new Error(`row counts differ: API stored ${apiRows}, COPY ${copyRows}`);

    const peak = api.memory().peakRssMiB;
    log(`${fmtNumber(total)} candidates per round in ${perRequest}-candidate requests, ${concurrency} in flight; ${roundCount} rounds`);
    const comparisons = printComparisons(log, [
      {
        metric: 'API POST /v1/steps/:id/candidates',
        unit: 'rows/s',
        values: apiRates,
        baseline: 'COPY FROM STDIN',
        baselineValues: copyRates,
        higherIsBetter: true,
        targetRatio: 0.6,
      },
    ]);
    log(`API resident memory: ${idle.rssMiB.toFixed(0)} MiB idle, peak ${peak.toFixed(0)} MiB`);
    return { comparisons, apiRowsPerSecond: apiRates, copyRowsPerSecond: copyRates, apiPeakRssMiB: peak, apiIdleRssMiB: idle.rssMiB };
  } finally {
    await client.end().catch(() => undefined);
    await api.stop();
    await db.drop();
  }
}
