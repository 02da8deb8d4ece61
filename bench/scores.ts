/**
 * Scores: what scoring costs.
 * - Writes: candidate scores through POST /v1/scores/batch (500 per request, 2 in flight)
 *   against COPY of the same rows into a bare table (id primary key, the score's own fields):
 *   the physical limit of the database.
 * - Reads (when `url` names a database seeded with scores: `npm run seed -- --runs 100000
 *   --scores 1000000`): the cross-run rejection question and the summary, p50/p95 over HTTP
 *   (bench/queries.ts, its score cases only).
 *
 *   npm run bench -- scores                      # writes on a fresh database; reads if DATABASE_URL is seeded
 */
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { copyField } from './candidates.js';
import { startApi } from './lib/api.js';
import { createDatabase } from './lib/database.js';
import { type BenchContext, type ComparisonResult, fmtNumber, printComparisons } from './lib/report.js';
import { benchQueries, type QueryFigure } from './queries.js';

export interface ScoresFigures {
  comparisons: ComparisonResult[];
  apiScoresPerSecond: number[];
  bareScoresPerSecond: number[];
  /** The score queries on the seeded database, when one was given. */
  queries?: QueryFigure[];
}

const PER_REQUEST = 500;
const CONCURRENCY = 2;

async function post(url: string, key: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Runs `tasks` with at most `concurrency` at a time. */
async function pool(tasks: (() => Promise<void>)[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) await tasks[next++]();
    }),
  );
}

export async function benchScores(ctx: BenchContext, seeded?: { url: string; project?: string }): Promise<ScoresFigures> {
  const { log } = ctx;
  const steps = ctx.smoke ? 1 : 10;
  const perStep = ctx.smoke ? 400 : 5_000;
  const total = steps * perStep;
  const roundCount = ctx.rounds ?? (ctx.smoke ? 1 : 3);
  const db = await createDatabase(ctx.adminUrl, 'scores');
  const api = await startApi({ databaseUrl: db.url, mode: ctx.mode, env: { XRAY_RATE_LIMIT: '0' } });
  const client = new pg.Client({ connectionString: db.url });
  try {
    const key = await api.newProject('bench-scores');
    await client.connect();
    const { json: run } = await post(`${api.baseUrl}/v1/runs`, key, JSON.stringify({ pipeline: 'bench-scores' }));
    // The candidates to score: `steps` filter steps of `perStep` candidates (set up, not timed).
    const stepIds: string[] = [];
    for (let s = 0; s < steps; s++) {
      const { json: step } = await post(`${api.baseUrl}/v1/runs/${run.id}/steps`, key, JSON.stringify({ name: `filter-${s}`, type: 'filter' }));
      const candidates = Array.from({ length: perStep }, (_, i) => ({ key: `item-${i}`, decision: i % 3 === 0 ? 'accepted' : 'rejected' }));
      const res = await post(`${api.baseUrl}/v1/steps/${step.id}/candidates`, key, JSON.stringify({ candidates }));
      if (res.status !== 201) throw new Error(`candidates: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
      stepIds.push(step.id as string);
    }
    await client.query(`CREATE TABLE scores_bare (id uuid PRIMARY KEY, step_id uuid NOT NULL, candidate_key text NOT NULL, name text NOT NULL,
      value_bool boolean, source text NOT NULL, author text)`);

    /** One round's scores: every candidate scored once, with fresh ids (as an evaluator or reviewers would send them). */
    const prepare = (label: string) => {
      const scores = stepIds.flatMap((stepId) =>
        Array.from({ length: perStep }, (_, i) => ({
          id: randomUUID(),
          stepId,
          key: `item-${i}`,
          name: `wanted-${label}`,
          value: i % 4 !== 0,
          source: 'evaluator',
          author: 'bench',
        })),
      );
      const bodies: string[] = [];
      for (let i = 0; i < scores.length; i += PER_REQUEST) bodies.push(JSON.stringify({ scores: scores.slice(i, i + PER_REQUEST) }));
      return { scores, bodies };
    };
    const viaApi = async ({ bodies }: ReturnType<typeof prepare>) => {
      const started = performance.now();
      await pool(
        bodies.map((body) => async () => {
          const res = await post(`${api.baseUrl}/v1/scores/batch`, key, body);
          if (res.status !== 201) throw new Error(`score batch failed: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
        }),
        CONCURRENCY,
      );
      return performance.now() - started;
    };
    const viaBare = async ({ scores }: ReturnType<typeof prepare>) => {
      const text = scores.map((s) => [s.id, s.stepId, s.key, s.name, s.value, s.source, s.author].map(copyField).join('\t') + '\n').join('');
      const started = performance.now();
      await pipeline(
        Readable.from([Buffer.from(text)]),
        client.query(copyStreams.from('COPY scores_bare (id, step_id, candidate_key, name, value_bool, source, author) FROM STDIN')),
      );
      return performance.now() - started;
    };

    const warm = prepare('warm');
    await viaApi({ ...warm, bodies: warm.bodies.slice(0, 2) });
    await viaBare(warm);
    const apiRates: number[] = [];
    const bareRates: number[] = [];
    for (let r = 0; r < roundCount; r++) {
      const round = prepare(`r${r}`);
      await client.query('CHECKPOINT');
      const apiMs = await viaApi(round);
      await client.query('CHECKPOINT');
      const bareMs = await viaBare(round);
      apiRates.push(total / (apiMs / 1000));
      bareRates.push(total / (bareMs / 1000));
      log(
        `  round ${r + 1}/${roundCount}: API ${fmtNumber(total / (apiMs / 1000))} scores/s (${apiMs.toFixed(0)} ms), COPY bare table ${fmtNumber(total / (bareMs / 1000))} scores/s`,
      );
    }
    const [{ n }] = (await client.query(`SELECT count(*)::int AS n FROM scores WHERE name LIKE 'wanted-r%'`)).rows;
    if (n !== total * roundCount) throw new Error(`the API stored ${n} scores, expected ${total * roundCount}`);
    log(`${fmtNumber(total)} candidate scores per round in ${PER_REQUEST}-score requests, ${CONCURRENCY} in flight; ${roundCount} rounds`);
    const comparisons = printComparisons(log, [
      {
        metric: 'API POST /v1/scores/batch',
        unit: 'scores/s',
        values: apiRates,
        baseline: 'COPY, bare scores table',
        baselineValues: bareRates,
        higherIsBetter: true,
      },
    ]);
    let queries: QueryFigure[] | undefined;
    if (seeded) {
      log('\nScore queries on the seeded database:');
      queries = await benchQueries({
        url: seeded.url,
        project: seeded.project,
        rounds: ctx.rounds ?? (ctx.smoke ? 3 : 40),
        plans: false,
        log,
        only: /^scores:/,
      });
    }
    return { comparisons, apiScoresPerSecond: apiRates, bareScoresPerSecond: bareRates, queries };
  } finally {
    await client.end().catch(() => undefined);
    await api.stop();
    await db.drop();
  }
}
