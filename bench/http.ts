/**
 * Benchmark 3, HTTP overhead: requests/s of an authenticated GET /v1/runs/:id (a run with a
 * five-step tree) and of GET /health, loaded by autocannon, against
 * - a bare node:http server answering the same bytes (the HTTP floor), and
 * - node:http + plain `pg` reading the same rows (what the route costs without the framework),
 * plus the plain pg queries alone (no HTTP). Then a CPU profile of the API under the
 * GET /v1/runs/:id load says where its time goes (guard, validation, serialisation, ORM…).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { freePort, startApi, type RunningApi } from './lib/api.js';
import { type BaselineConfig, pgQueriesPerSecond, startBaseline } from './lib/baseline-server.js';
import { createDatabase } from './lib/database.js';
import { printProfile, summarizeProfile, type ProfileSummary } from './lib/profile.js';
import { type BenchContext, type ComparisonResult, fmtNumber, printComparisons } from './lib/report.js';

export interface HttpFigures {
  comparisons: ComparisonResult[];
  pgOnlyPerSecond: number[];
  profile?: ProfileSummary;
}

const CONNECTIONS = 10;

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<number> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return result.requests.total / (result.duration || seconds);
}

/** A baseline server in its own process (full runs) or in this one (smoke). */
async function baseline(config: Omit<BaselineConfig, 'port'>, inline: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (inline) {
    const server = await startBaseline({ ...config, port });
    return { url, close: () => server.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'xray-bench-baseline-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...config, port }));
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./lib/baseline-server.js', import.meta.url)), file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`baseline server exited with ${code}`)));
  });
  return {
    url,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function seedRun(api: RunningApi, key: string): Promise<string> {
  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(api.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { id: string };
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json.id;
  };
  const runId = await call('POST', '/v1/runs', {
    pipeline: 'competitor-selection',
    input: { title: 'Adjustable laptop stand' },
    tags: ['nightly'],
    metadata: { region: 'eu' },
  });
  for (const [name, type] of [
    ['keyword-generation', 'llm'],
    ['search', 'retrieval'],
    ['filter-by-price', 'filter'],
    ['rank', 'rank'],
  ]) {
    const stepId = await call('POST', `/v1/runs/${runId}/steps`, { name, type, input: { q: 'laptop stand' } });
    if (name === 'filter-by-price') {
      await call('POST', `/v1/runs/${runId}/steps`, { name: 'price-rule', parentStepId: stepId });
      await call('POST', `/v1/steps/${stepId}/candidates`, {
        candidates: Array.from({ length: 50 }, (_, i) => ({
          key: `B0${i}`,
          decision: i < 10 ? 'accepted' : 'rejected',
          ...(i < 10 ? {} : { reason: 'price above $50' }),
        })),
      });
    }
    await call('PATCH', `/v1/steps/${stepId}`, { status: 'success', output: { ok: true }, reasoning: `${name} done` });
  }
  await call('PATCH', `/v1/runs/${runId}`, { status: 'success', output: { selected: 'B00' } });
  return runId;
}

export async function benchHttp(ctx: BenchContext): Promise<HttpFigures> {
  const { log } = ctx;
  const seconds = ctx.smoke ? 0.3 : 5;
  const roundCount = ctx.rounds ?? (ctx.smoke ? 1 : 3);
  const inline = ctx.mode === 'inline';
  const db = await createDatabase(ctx.adminUrl, 'http');
  // The default rate limit (6,000/min per key) would answer 429 at these rates; a high limit
  // keeps its per-request counting, so what is measured is what production pays.
  const env = { XRAY_RATE_LIMIT: '10000000' };
  let api = await startApi({ databaseUrl: db.url, mode: ctx.mode, env });
  const closers: (() => Promise<void>)[] = [];
  try {
    const key = await api.newProject('bench-http');
    const runId = await seedRun(api, key);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const [{ project_id: projectId }] = (await client.query('SELECT project_id FROM runs WHERE id = $1', [runId])).rows;
    await client.end();
    const auth = { authorization: `Bearer ${key}` };
    const runPath = `/v1/runs/${runId}`;
    const bodies: Record<string, string> = {};
    for (const path of [runPath, '/health']) {
      const res = await fetch(api.baseUrl + path, { headers: auth });
      bodies[path] = await res.text();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${bodies[path]}`);
    }
    const poolSize = Number(process.env.XRAY_DB_POOL_SIZE ?? 0) || undefined;
    const bare = await baseline({ kind: 'bare', bodies }, inline);
    closers.push(() => bare.close());
    const withPg = await baseline({ kind: 'pg', databaseUrl: db.url, projectId, poolSize }, inline);
    closers.push(() => withPg.close());

    const targets = [
      { name: 'run', path: runPath, api: [] as number[], bare: [] as number[], pg: [] as number[] },
      { name: 'health', path: '/health', api: [] as number[], bare: [] as number[], pg: [] as number[] },
    ];
    const pgOnly: number[] = [];
    // Warm-up.
    for (const t of targets) {
      await load(api.baseUrl + t.path, auth, Math.min(1, seconds));
      await load(bare.url + t.path, {}, Math.min(1, seconds));
      await load(withPg.url + t.path, {}, Math.min(1, seconds));
    }
    for (let r = 0; r < roundCount; r++) {
      for (const t of targets) {
        t.api.push(await load(api.baseUrl + t.path, auth, seconds));
        t.bare.push(await load(bare.url + t.path, {}, seconds));
        t.pg.push(await load(withPg.url + t.path, {}, seconds));
      }
      pgOnly.push(await pgQueriesPerSecond(db.url, projectId, runId, CONNECTIONS, seconds * 1000));
      log(
        `  round ${r + 1}/${roundCount}: GET /v1/runs/:id ${fmtNumber(targets[0].api[r])} req/s (bare ${fmtNumber(targets[0].bare[r])}, http+pg ${fmtNumber(targets[0].pg[r])}), ` +
          `GET /health ${fmtNumber(targets[1].api[r])} req/s (bare ${fmtNumber(targets[1].bare[r])}, http+pg ${fmtNumber(targets[1].pg[r])}), pg alone ${fmtNumber(pgOnly[r])} reads/s`,
      );
    }
    log(
      `autocannon, ${CONNECTIONS} connections, ${seconds} s per measurement, ${roundCount} rounds; GET /v1/runs/:id answers ${Buffer.byteLength(bodies[runPath])} bytes (a run and 5 steps)`,
    );
    const comparisons = printComparisons(log, [
      { metric: 'GET /v1/runs/:id', unit: 'req/s', values: targets[0].api, baseline: 'bare node:http', baselineValues: targets[0].bare, higherIsBetter: true },
      { metric: 'GET /v1/runs/:id', unit: 'req/s', values: targets[0].api, baseline: 'node:http + pg', baselineValues: targets[0].pg, higherIsBetter: true },
      { metric: 'GET /v1/runs/:id', unit: 'req/s', values: targets[0].api, baseline: 'pg alone (2 queries)', baselineValues: pgOnly, higherIsBetter: true },
      { metric: 'GET /health', unit: 'req/s', values: targets[1].api, baseline: 'bare node:http', baselineValues: targets[1].bare, higherIsBetter: true },
      { metric: 'GET /health', unit: 'req/s', values: targets[1].api, baseline: 'node:http + pg', baselineValues: targets[1].pg, higherIsBetter: true },
    ]);

    // Where the time goes: a fresh API, profiled while GET /v1/runs/:id is under load.
    await api.stop();
    api = await startApi({ databaseUrl: db.url, mode: ctx.mode, env, profile: true });
    await load(api.baseUrl + runPath, auth, Math.min(1, seconds));
    await api.profiler!.start();
    const rate = await load(api.baseUrl + runPath, auth, seconds);
    const summary = summarizeProfile(await api.profiler!.stop());
    log(
      `\nCPU profile of the API serving GET /v1/runs/:id (${fmtNumber(rate)} req/s while profiled${inline ? '; inline: the load generator is in it too' : ''}):`,
    );
    printProfile(log, summary, ctx.smoke ? 5 : 20);
    return { comparisons, pgOnlyPerSecond: pgOnly, profile: summary };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await api.stop();
    await db.drop();
  }
}
