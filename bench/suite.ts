/** The benchmarks in order, shared by the CLI (bench/run.ts) and the smoke test. */
import { benchCandidates, type CandidatesFigures } from './candidates.js';
import { benchIngest, type IngestFigures } from './ingest.js';
import { benchQueries } from './queries.js';
import type { BenchContext } from './lib/report.js';

export const SUITE = ['candidates', 'ingest', 'queries'] as const;
export type BenchName = (typeof SUITE)[number];

export interface SuiteResults {
  candidates?: CandidatesFigures;
  ingest?: IngestFigures;
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
      case 'queries': {
        // Owned by bench/queries.ts: it reads a database seeded beforehand (npm run seed).
        const url = queries?.url ?? process.env.DATABASE_URL;
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
