/**
 * Query latency at scale: boots the API in-process against a seeded database, times every
 * query endpoint over HTTP (p50/p95 over many rounds) and prints the EXPLAIN ANALYZE plan of
 * each endpoint's main SQL statement, so index use can be checked.
 *
 *   npm run seed -- --runs 100000 --project big        # once: 100k runs, 1M steps, 10M candidates
 *   npm run bench -- queries --project big [--rounds 40] [--plans]
 *
 * Uses DATABASE_URL (the seeded database).
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from '../apps/api/src/app.module.js';
import { configureApp } from '../apps/api/src/app.setup.js';
import { generateApiKey } from '../apps/api/src/auth/api-key.util.js';
import { percentile, printTable } from './lib/stats.js';

export interface QueryFigure {
  name: string;
  path: string;
  p50: number;
  p95: number;
  max: number;
  rows: number;
  plan: string[];
}

interface Captured {
  sql: string;
  params: unknown[];
}

/** Records every SQL statement the app sends, so the benchmark can EXPLAIN them afterwards. */
function captureQueries(ds: DataSource): { take(): Captured[]; stop(): void } {
  const original = ds.query.bind(ds);
  let log: Captured[] = [];
  (ds as unknown as { query: unknown }).query = (sql: string, params?: unknown[], ...rest: unknown[]) => {
    log.push({ sql, params: params ?? [] });
    return (original as (...a: unknown[]) => unknown)(sql, params, ...rest);
  };
  return {
    take: () => {
      const out = log;
      log = [];
      return out;
    },
    stop: () => ((ds as unknown as { query: unknown }).query = original),
  };
}

export async function benchQueries(options: {
  url: string;
  project?: string;
  rounds: number;
  plans: boolean;
  log?: (s: string) => void;
  /** Only the cases whose name matches. */
  only?: RegExp;
}): Promise<QueryFigure[]> {
  const log = options.log ?? console.log;
  process.env.DATABASE_URL = options.url;
  process.env.XRAY_LOG_LEVEL = 'silent';
  process.env.XRAY_SWEEP_INTERVAL = '0';
  const app: INestApplication = await NestFactory.create(AppModule, { bodyParser: false, logger: false });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const base = await app.getUrl();
  const ds = app.get(DataSource);
  try {
    // The seeded project (the largest one, unless named) and a fresh read key for it.
    const [project] = await ds.query(
      options.project
        ? 'SELECT id, name FROM projects WHERE name = $1'
        : 'SELECT p.id, p.name FROM projects p JOIN runs r ON r.project_id = p.id GROUP BY p.id ORDER BY count(*) DESC LIMIT 1',
      options.project ? [options.project] : [],
    );
    if (!project) throw new Error(`No seeded project${options.project ? ` named ${options.project}` : ''}; run npm run seed first`);
    const key = generateApiKey();
    await ds.query(`INSERT INTO api_keys (id, project_id, name, prefix, hash, scopes) VALUES ($1, $2, 'bench', $3, $4, '{read}')`, [
      randomUUID(),
      project.id,
      key.prefix,
      key.hash,
    ]);
    const [counts] = await ds.query(
      `SELECT (SELECT count(*) FROM runs WHERE project_id = $1)::int AS runs, (SELECT count(*) FROM steps WHERE project_id = $1)::int AS steps,
              (SELECT sum(c.reltuples)::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'candidates'::regclass) AS candidates`,
      [project.id],
    );
    log(`Project "${project.name}": ${counts.runs} runs, ${counts.steps} steps, ~${counts.candidates} candidates in the table`);

    // Realistic parameters drawn from the data.
    const [recent] = await ds.query(
      `SELECT r.id, r.pipeline FROM runs r WHERE r.project_id = $1 AND r.status = 'success' ORDER BY r.started_at DESC LIMIT 1 OFFSET 100`,
      [project.id],
    );
    const [other] = await ds.query(
      `SELECT id FROM runs WHERE project_id = $1 AND pipeline = $2 AND status = 'success' AND id <> $3 ORDER BY started_at DESC LIMIT 1 OFFSET 200`,
      [project.id, recent.pipeline, recent.id],
    );
    const [filterStep] = await ds.query(`SELECT id FROM steps WHERE run_id = $1 AND name = 'filter-by-price'`, [recent.id]);
    const [candidate] = await ds.query(`SELECT key FROM candidates WHERE step_id = $1 LIMIT 1`, [filterStep.id]);
    const month = new Date(Date.now() - 30 * 86_400_000).toISOString();

    const cases: [string, string][] = [
      ['runs: newest page', '/v1/runs?limit=50'],
      ['runs: pipeline + status', `/v1/runs?pipeline=${recent.pipeline}&status=error&limit=50`],
      ['runs: tag + metadata', '/v1/runs?tag=nightly&metadata.customer=acme&limit=50'],
      ['runs: errorType', '/v1/runs?errorType=TimeoutError&limit=50'],
      ['runs: minDurationMs', '/v1/runs?minDurationMs=40000&limit=50'],
      ['runs: text search q', '/v1/runs?q=rate%20limited&limit=50'],
      ['run: get with step tree', `/v1/runs/${recent.id}`],
      ['steps: ratio >= 0.9 by name', '/v1/steps?name=filter-by-price&minEliminationRatio=0.9&limit=50'],
      ['steps: pipeline + type + max ratio', `/v1/steps?pipeline=${recent.pipeline}&type=filter&maxEliminationRatio=0.2&limit=50`],
      ['steps: slow steps of a name', '/v1/steps?name=rank&minDurationMs=1400&limit=50'],
      ['candidates: step page', `/v1/steps/${filterStep.id}/candidates?limit=100`],
      ['candidates: step rejected page', `/v1/steps/${filterStep.id}/candidates?decision=rejected&limit=100`],
      ['candidates: step summary', `/v1/steps/${filterStep.id}/candidates/summary`],
      ['lineage: one key across runs', `/v1/candidates?key=${candidate.key}&limit=100`],
      ['compare two runs', `/v1/runs/${recent.id}/compare/${other.id}`],
      ['analytics: pipeline, 7 days', `/v1/analytics/pipelines/${recent.pipeline}`],
      ['analytics: pipeline, 30 days', `/v1/analytics/pipelines/${recent.pipeline}?from=${month}`],
      // Scores (seed with --scores): candidate scores named `wanted`.
      ['scores: rejection question, 7 days', `/v1/analytics/score-rejections?pipeline=${recent.pipeline}&name=wanted&good=true`],
      ['scores: rejection question, 30 days', `/v1/analytics/score-rejections?pipeline=${recent.pipeline}&name=wanted&good=true&from=${month}`],
      ['scores: summary, 7 days', `/v1/scores/summary?pipeline=${recent.pipeline}&name=wanted`],
    ].filter(([name]) => !options.only || options.only.test(name)) as [string, string][];

    const capture = captureQueries(ds);
    const figures: QueryFigure[] = [];
    for (const [name, path] of cases) {
      const call = async () => {
        const res = await fetch(base + path, { headers: { Authorization: `Bearer ${key.key}` } });
        const body = (await res.json()) as { items?: unknown[] };
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
        return body;
      };
      for (let i = 0; i < 3; i++) await call();
      capture.take();
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < options.rounds; i++) {
        const t = performance.now();
        const body = await call();
        times.push(performance.now() - t);
        rows = Array.isArray(body.items) ? body.items.length : 1;
      }
      capture.take();
      // The statement that does the work: the slowest of one call's statements.
      let plan: string[] = [];
      if (options.plans) {
        const one = await (async () => {
          capture.take();
          await call();
          return capture.take();
        })();
        let worst = -1;
        for (const s of one) {
          if (/^\s*(SELECT 1 FROM steps|UPDATE api_keys)/.test(s.sql) || /FROM api_keys/.test(s.sql)) continue;
          const rowsOut: { 'QUERY PLAN': string }[] = await ds.query(`EXPLAIN (ANALYZE, BUFFERS) ${s.sql}`, s.params);
          const lines = rowsOut.map((r) => r['QUERY PLAN']);
          const ms = Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? 0);
          if (ms > worst) {
            worst = ms;
            plan = lines;
          }
        }
      }
      figures.push({ name, path, p50: percentile(times, 50), p95: percentile(times, 95), max: Math.max(...times), rows, plan });
    }
    capture.stop();
    await ds.query(`DELETE FROM api_keys WHERE hash = $1`, [key.hash]);

    printTable(
      log,
      ['query', 'p50 ms', 'p95 ms', 'max ms', 'rows'],
      figures.map((f) => [f.name, f.p50.toFixed(1), f.p95.toFixed(1), f.max.toFixed(1), String(f.rows)]),
    );
    if (options.plans) {
      for (const f of figures) {
        log(`\n## ${f.name}  (${f.path})`);
        for (const line of f.plan.filter((l) => !/^\s*Buffers:|Planning:|^\s*Planning Time/.test(l)).slice(0, 25)) log(`    ${line}`);
      }
    }
    return figures;
  } finally {
    await app.close();
  }
}
