/** The benchmarks in order, shared by the CLI (bench/run.ts) and the smoke test. */
import { benchCandidates, type CandidatesFigures } from './candidates.js';
import { benchDashboard, type DashboardFigures } from './dashboard.js';
import { benchHttp, type HttpFigures } from './http.js';
import { benchIngest, type IngestFigures } from './ingest.js';
import { benchMemory, type MemoryFigures } from './memory.js';
import { benchOtlp, type OtlpFigures } from './otlp.js';
import { benchQueries } from './queries.js';
import { benchScores, type ScoresFigures } from './scores.js';
import { benchSdkOverhead, type SdkOverheadFigures } from './sdk-overhead.js';
import pg from 'pg';
import type { BenchContext } from './lib/report.js';

/** Whether a database holds xray runs (the queries benchmark never migrates or writes a database it was not pointed at on purpose). */
async function isSeeded(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query(`SELECT to_regclass('public.runs') IS NOT NULL AS has`);
    if (!rows[0].has) return false;
    return (await client.query('SELECT 1 FROM runs LIMIT 1')).rows.length > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const SUITE = ['candidates', 'ingest', 'http', 'queries', 'memory', 'sdk', 'dashboard', 'scores', 'otlp'] as const;
export type BenchName = (typeof SUITE)[number];

export interface SuiteResults {
  candidates?: CandidatesFigures;
  ingest?: IngestFigures;
  http?: HttpFigures;
  memory?: MemoryFigures;
  sdk?: SdkOverheadFigures;
  dashboard?: DashboardFigures;
  scores?: ScoresFigures;
  otlp?: OtlpFigures;
}

export interface SuiteOptions {
  names: BenchName[];
  ctx: BenchContext;
  queries?: { project?: string; plans?: boolean; explicit?: boolean; url?: string };
}

export async function runSuite({ names, ctx, queries }: SuiteOptions): Promise<SuiteResults> {
  const results: SuiteResults = {};
  const { log } = ctx;
  for (const name of SUITE.filter((n) => names.includes(n))) {
    log(`\n# ${name}${ctx.smoke ? ' (smoke)' : ''}`);
    const t = Date.now();
    switch (name) {
      case 'candidates':
        results.candidates = await benchCandidates(ctx);
        break;
      case 'ingest':
        results.ingest = await benchIngest(ctx);
        break;
      case 'http':
        results.http = await benchHttp(ctx);
        break;
      case 'memory': {
        // The API's peaks come from benchmarks 1 and 2; run them (one round each) if this run did not.
        const one = { ...ctx, rounds: 1, log: ctx.smoke ? ctx.log : () => undefined };
        if (!results.candidates) log('(running candidate ingest, one round, for its memory figures)');
        const candidates = results.candidates ?? (await benchCandidates(one));
        if (!results.ingest) log('(running batch event ingest, one round, for its memory figures)');
        const ingest = results.ingest ?? (await benchIngest(one));
        results.memory = await benchMemory(ctx, { candidates, ingest });
        break;
      }
      case 'sdk':
        results.sdk = await benchSdkOverhead(ctx);
        break;
      case 'dashboard':
        results.dashboard = await benchDashboard(ctx);
        break;
      case 'scores': {
        // Writes on a fresh database; the score queries too when DATABASE_URL holds seeded data.
        const url = queries?.url ?? process.env.DATABASE_URL;
        const seeded = url && (await isSeeded(url)) ? { url, project: queries?.project } : undefined;
        if (!seeded) log('(score queries skipped: DATABASE_URL holds no seeded xray data; npm run seed -- --runs 100000 --scores 1000000)');
        results.scores = await benchScores(ctx, seeded);
        break;
      }
      case 'otlp':
        results.otlp = await benchOtlp(ctx);
        break;
      case 'queries': {
        // Owned by bench/queries.ts: it reads a database seeded beforehand (npm run seed).
        const url = queries?.url ?? process.env.DATABASE_URL;
        if (url && !queries?.explicit && !(await isSeeded(url))) {
          log('skipped: DATABASE_URL holds no seeded xray data (npm run seed -- --runs 100000, then npm run bench -- queries)');
          break;
        }
        if (!url) {
          if (queries?.explicit) throw new Error('The queries benchmark needs DATABASE_URL pointing at a seeded database (npm run seed)');
          log('skipped: needs DATABASE_URL pointing at a seeded database (npm run seed -- --runs 100000, then npm run bench -- queries)');
          break;
        }
        await benchQueries({ url, project: queries?.project, rounds: ctx.rounds ?? (ctx.smoke ? 3 : 40), plans: queries?.plans ?? false, log });
        break;
      }
    }
    log(`(${name}: ${((Date.now() - t) / 1000).toFixed(0)} s)`);
  }
  return results;
}
