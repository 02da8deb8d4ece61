/**
 * Fills a database with realistic pipeline data, fast: every table is written by a few
 * server-side multi-row INSERT … SELECT statements (generate_series) per round of 2,000 runs,
 * never row by row, printing progress, rate and ETA after each round.
 *
 *   npm run seed -- --runs 100000 [--project seed] [--days 30] [--batch 2000] [--scores 1000000]
 *   npm run seed -- --project big --add-scores 1000000     # scores for a project seeded before
 *
 * Per run: 10 steps (7 top level, 3 nested) and 100 candidates (30 in each of three filter
 * steps, 10 in the rank step), so --runs 100000 gives 1,000,000 steps and 10,000,000
 * candidates. Product keys come from a pool of 200,000, so each key is evaluated many times
 * across runs. `--scores N` adds about N candidate scores (see seedScores). Uses DATABASE_URL,
 * or the embedded database in XRAY_DATA_DIR.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { generateApiKey } from '../apps/api/src/auth/api-key.util.js';
import { isMainModule } from '../apps/api/src/common/main-module.js';
import { loadConfig } from '../apps/api/src/config/config.js';
import { createDataSource } from '../apps/api/src/database/data-source.js';
import { EmbeddedPostgres } from '../apps/api/src/database/embedded-postgres.js';
import { addDays, createDayPartitions, dayOf } from '../apps/api/src/database/partitions.js';
import { rebuildLlmRollupsStatements, rebuildRollupsStatements } from '../apps/api/src/database/rollups.js';
import { rebuildRejectionRollup, refreshRejectionsSql } from '../apps/api/src/database/score-rejections.js';
import { rebuildScoreValues } from '../apps/api/src/database/score-values.js';
import { query, sql } from '../apps/api/src/database/sql.js';

export interface SeedResult {
  projectId: string;
  apiKey: string;
  runs: number;
  steps: number;
  candidates: number;
  seconds: number;
}

/** The step plan of one run: position among siblings, name, type, parent (by plan index). */
const PLAN: [number, string, string, number | null][] = [
  [0, 'keyword-generation', 'llm', null],
  [1, 'search', 'retrieval', null],
  [2, 'filter-by-price', 'filter', null],
  [3, 'filter-by-rating', 'filter', null],
  [4, 'filter-by-category', 'filter', null],
  [5, 'rank', 'rank', null],
  [6, 'select', 'transform', null],
  [0, 'prompt', 'llm', 0],
  [0, 'price-rule', 'custom', 2],
  [0, 'embed-query', 'tool', 5],
];

/** A deterministic RFC 4122 version-4-shaped UUID from any text (ids must derive from (run, index)). */
const uuidOf = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13 for 1) placing '8' from 17 for 1)::uuid`;

const REASONS: Record<string, string[]> = {
  'filter-by-price': ['price above $50', 'price above $100', 'price missing'],
  'filter-by-rating': ['rating below 4', 'fewer than 10 reviews'],
  'filter-by-category': ['wrong category', 'accessory, not the product', 'bundle'],
  rank: ['low relevance', 'duplicate listing'],
};

/** Runs written per round of statements: small enough to report progress every second or two. */
export const DEFAULT_BATCH_RUNS = 2000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** `1 h 02 min`, `3 min 05 s`, `12 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export async function seed(
  url: string,
  runs: number,
  projectName: string,
  days: number,
  log = console.log,
  batchRuns = DEFAULT_BATCH_RUNS,
): Promise<SeedResult> {
  const started = Date.now();
  const ds = createDataSource({ url, poolSize: 2, statementTimeoutMs: 0 });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
    // The day partitions the runs will start on (the server would create them on demand).
    const today = dayOf(Date.now());
    for (let d = -Math.ceil(days) - 1; d <= 1; d++) await createDayPartitions(ds, addDays(today, d));
    const key = generateApiKey();
    const projectId = randomUUID();
    await ds.query('INSERT INTO projects (id, name) VALUES ($1, $2)', [projectId, projectName]);
    await ds.query(`INSERT INTO api_keys (id, project_id, name, prefix, hash, scopes) VALUES ($1, $2, 'seed admin', $3, $4, '{admin}')`, [
      randomUUID(),
      projectId,
      key.prefix,
      key.hash,
    ]);
    const step = async (label: string, sql: string, params: unknown[]) => {
      const t = Date.now();
      await ds.query(sql, params);
      log(`  ${label} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    };

    // Written in rounds of `batchRuns` runs (their steps, candidates and step counters with
    // them), so progress, rate and ETA can be reported while it works. Each round's runs are
    // the numbers lo..hi; a run's id derives from its number, which gives the round's run ids
    // back to the later statements of the round.
    const roundRuns = (lo: string, hi: string) => `SELECT ${uuidOf('$1::text || g')} AS id FROM generate_series(${lo}::int, ${hi}::int) g`;
    const plan = JSON.stringify(PLAN.map(([position, name, type, parent], i) => ({ i, position, name, type, parent })));
    const reasons = JSON.stringify(Object.entries(REASONS).map(([name, list]) => ({ name, list })));
    const insertStarted = Date.now();
    let lastReport = 0;
    for (let lo = 1; lo <= runs; lo += batchRuns) {
      const hi = Math.min(runs, lo + batchRuns - 1);
      // Runs: three pipelines, spread over the last `days` days; 90% success, 6% error, 2% cancelled, 2% running.
      await ds.query(
        `INSERT INTO runs (id, project_id, pipeline, pipeline_version, status, input, output, error, metadata, tags, started_at, ended_at)
         SELECT ${uuidOf('$1::text || g')}, $1::uuid,
                (ARRAY['competitor-selection', 'listing-optimisation', 'support-answer'])[1 + g % 3],
                'v' || (1 + g % 4),
                CASE WHEN g % 50 = 7 THEN 'running' WHEN g % 50 = 9 THEN 'cancelled' WHEN g % 17 = 3 THEN 'error' ELSE 'success' END,
                jsonb_build_object('title', 'Product ' || g, 'market', (ARRAY['us', 'uk', 'de'])[1 + g % 3]),
                CASE WHEN g % 17 <> 3 THEN jsonb_build_object('selected', 'B0' || lpad((g * 7919 % 200000)::text, 8, '0')) END,
                CASE WHEN g % 17 = 3 AND g % 50 NOT IN (7, 9) THEN jsonb_build_object('type', (ARRAY['TimeoutError', 'RateLimitError', 'ValidationError'])[1 + g % 3],
                     'message', (ARRAY['ranker timed out after 30s', 'LLM rate limited', 'no candidates survived the filters'])[1 + g % 3]) END,
                jsonb_build_object('customer', (ARRAY['acme', 'globex', 'initech', 'umbrella'])[1 + g % 4], 'region', (ARRAY['eu', 'us'])[1 + g % 2]),
                ARRAY[(ARRAY['nightly', 'adhoc', 'backfill'])[1 + g % 3]],
                now() - make_interval(secs => ($2::float8 * 86400) * (g::float8 / $3)),
                CASE WHEN g % 50 <> 7 THEN now() - make_interval(secs => ($2::float8 * 86400) * (g::float8 / $3)) + make_interval(secs => 2 + (g % 40)) END
         FROM generate_series($4::int, $5::int) g`,
        [projectId, days, runs, lo, hi],
      );

      // Steps: the plan above for every run. Ids derive from (run, plan index) so parents resolve.
      await ds.query(
        `INSERT INTO steps (id, project_id, run_id, run_started_at, parent_step_id, pipeline, name, type, position, status, input, output,
                            reasoning, metadata, started_at, ended_at, error)
         SELECT ${uuidOf('r.id::text || p.i')}, r.project_id, r.id, r.started_at,
                CASE WHEN p.parent IS NOT NULL THEN ${uuidOf('r.id::text || p.parent')} END,
                r.pipeline, p.name, p.type, p.position,
                CASE WHEN r.status = 'error' AND p.name = 'rank' THEN 'error' WHEN r.status = 'running' AND p.i >= 5 THEN 'running' ELSE 'success' END,
                jsonb_build_object('step', p.name), jsonb_build_object('ok', true),
                CASE WHEN p.type = 'filter' THEN 'kept items that passed ' || p.name END,
                '{}'::jsonb,
                r.started_at + make_interval(secs => p.i * 0.2),
                CASE WHEN NOT (r.status = 'running' AND p.i >= 5)
                     THEN r.started_at + make_interval(secs => p.i * 0.2 + ((hashtext(r.id::text || p.i)::bigint & 2147483647) % 1500) / 1000.0) END,
                CASE WHEN r.status = 'error' AND p.name = 'rank' THEN r.error END
         FROM runs r CROSS JOIN jsonb_to_recordset($2::jsonb) AS p(i int, position int, name text, type text, parent int)
         WHERE r.project_id = $1::uuid AND r.id IN (${roundRuns('$3', '$4')})`,
        [projectId, plan, lo, hi],
      );

      // Candidates: 30 per filter step, 10 for rank. Each step keeps a share drawn from its own hash.
      await ds.query(
        `INSERT INTO candidates (project_id, run_id, run_started_at, step_id, key, decision, score, rank, reason, evaluations, data)
         SELECT s.project_id, s.run_id, s.run_started_at, s.id,
                'B0' || lpad((((hashtext(s.id::text)::bigint & 2147483647) + g * 7919) % 200000)::text, 8, '0'),
                CASE WHEN s.name = 'rank' AND g = 1 THEN 'selected'
                     WHEN ((hashtext(s.id::text || g)::bigint & 2147483647) % 100) < s.keep THEN 'accepted' ELSE 'rejected' END,
                round((((hashtext(s.id::text || g)::bigint & 2147483647) % 1000) / 1000.0)::numeric, 3)::float8,
                CASE WHEN s.name = 'rank' THEN g END,
                CASE WHEN NOT (s.name = 'rank' AND g = 1) AND ((hashtext(s.id::text || g)::bigint & 2147483647) % 100) >= s.keep
                     THEN (rs.list)[1 + g % jsonb_array_length(to_jsonb(rs.list))] END,
                CASE WHEN s.type = 'filter' THEN jsonb_build_array(jsonb_build_object('check', s.name,
                     'passed', ((hashtext(s.id::text || g)::bigint & 2147483647) % 100) < s.keep, 'detail', '$' || (g * 13 % 200))) END,
                jsonb_build_object('title', 'Item ' || g, 'price', g * 13 % 200)
         FROM (SELECT st.*, CASE WHEN (hashtext(st.id::text)::bigint & 2147483647) % 10 < 3 THEN 3 + (hashtext(st.id::text)::bigint & 2147483647) % 7
                                 ELSE 30 + (hashtext(st.id::text)::bigint & 2147483647) % 60 END AS keep
               FROM steps st WHERE st.run_id IN (${roundRuns('$3', '$4')}) AND st.project_id = $1::uuid AND st.name IN ('filter-by-price', 'filter-by-rating', 'filter-by-category', 'rank')) s
         JOIN (SELECT x.name, ARRAY(SELECT jsonb_array_elements_text(x.list)) AS list
               FROM jsonb_to_recordset($2::jsonb) AS x(name text, list jsonb)) rs ON rs.name = s.name
         CROSS JOIN generate_series(1, CASE WHEN s.name = 'rank' THEN 10 ELSE 30 END) g`,
        [projectId, reasons, lo, hi],
      );

      await ds.query(
        `UPDATE steps s SET stored_in = c.n, stored_out = c.k
         FROM (SELECT st.id AS step_id, count(*)::int AS n, count(*) FILTER (WHERE ca.decision <> 'rejected')::int AS k
               FROM steps st JOIN candidates ca ON ca.project_id = st.project_id AND ca.step_id = st.id AND ca.run_started_at = st.run_started_at
               WHERE st.run_id IN (${roundRuns('$2', '$3')}) AND st.project_id = $1::uuid GROUP BY st.id) c
         WHERE s.project_id = $1::uuid AND s.id = c.step_id`,
        [projectId, lo, hi],
      );

      const now = Date.now();
      if (hi === runs || now - lastReport >= 1000) {
        lastReport = now;
        const seconds = (now - insertStarted) / 1000;
        const rate = hi / Math.max(seconds, 0.001);
        log(
          `  ${fmt(hi)}/${fmt(runs)} runs (${Math.floor((hi / runs) * 100)}%): ${fmt(rate)} runs/s, ${fmt(rate * 100)} candidates/s, ` +
            (hi === runs ? `done in ${formatDuration(seconds)}` : `ETA ${formatDuration((runs - hi) / rate)}`),
        );
      }
    }
    // The rollups the server's writers keep, computed once over what was written.
    const rollups = Date.now();
    for (const statement of [...rebuildRollupsStatements(), ...rebuildLlmRollupsStatements()]) await ds.query(statement);
    log(`  rollups (${((Date.now() - rollups) / 1000).toFixed(1)} s)`);
    await step('analyze', 'ANALYZE', []);
    const [counts] = await ds.query(
      `SELECT (SELECT count(*) FROM runs WHERE project_id = $1)::int AS runs,
              (SELECT count(*) FROM steps WHERE project_id = $1)::int AS steps,
              (SELECT count(*) FROM candidates WHERE project_id = $1)::int AS candidates`,
      [projectId],
    );
    return { projectId, apiKey: key.key, ...counts, seconds: (Date.now() - started) / 1000 };
  } finally {
    await ds.destroy();
  }
}

/**
 * About `total` candidate scores spread evenly over the project's runs, newest runs first, in rounds of runs: in
 * each run, a share of the candidates of filter-by-price and filter-by-category (those that
 * entered the funnel) scored `wanted` (boolean, one in three false), as a reviewer or an
 * evaluator would; ids are deterministic, so a second call adds nothing. Answers how many
 * scores the project has.
 */
export async function seedScores(url: string, projectName: string, total: number, log = console.log, batchRuns = DEFAULT_BATCH_RUNS): Promise<number> {
  const ds = createDataSource({ url, poolSize: 2, statementTimeoutMs: 0 });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
    const [project] = await ds.query('SELECT id FROM projects WHERE name = $1', [projectName]);
    if (!project) throw new Error(`No project named ${projectName}`);
    const runIds: { id: string }[] = await ds.query('SELECT id FROM runs WHERE project_id = $1 ORDER BY started_at DESC', [project.id]);
    // 60 candidates per run in the two filters: a run gets total/runs of them scored.
    const perMille = Math.min(1000, Math.round(((total / Math.max(runIds.length, 1)) * 1000) / 60));
    const started = Date.now();
    let lastReport = 0;
    for (let i = 0; i < runIds.length; i += batchRuns) {
      const ids = runIds.slice(i, i + batchRuns).map((r) => r.id);
      await ds.query(
        `INSERT INTO scores (project_id, id, run_id, run_started_at, step_id, candidate_key, name, data_type, value_bool, source, author, created_at, updated_at)
         SELECT c.project_id, ${uuidOf("'score' || c.step_id::text || c.key")}, c.run_id, c.run_started_at, c.step_id, c.key, 'wanted', 'boolean',
                (hashtext(c.key || c.run_id::text)::bigint & 2147483647) % 3 <> 0,
                CASE WHEN c.step_id::text < '8' THEN 'human' ELSE 'evaluator' END, 'seed', c.run_started_at + interval '1 hour', c.run_started_at + interval '1 hour'
         FROM steps s JOIN candidates c ON c.project_id = s.project_id AND c.step_id = s.id AND c.run_id = s.run_id AND c.run_started_at = s.run_started_at
         WHERE s.project_id = $1::uuid AND s.run_id = ANY($2::uuid[]) AND s.name IN ('filter-by-price', 'filter-by-category')
           AND (hashtext(c.key || c.step_id::text)::bigint & 2147483647) % 1000 < $3
         ON CONFLICT DO NOTHING`,
        [project.id, ids, perMille],
      );
      // Which steps rejected each scored item, as the API records it when a score is created.
      await query(ds, refreshRejectionsSql(project.id, sql`s2.run_id = ANY(${ids}::uuid[])`));
      const now = Date.now();
      const done = Math.min(runIds.length, i + batchRuns);
      if (done === runIds.length || now - lastReport >= 2000) {
        lastReport = now;
        log(`  scores for ${fmt(done)}/${fmt(runIds.length)} runs (${formatDuration((now - started) / 1000)})`);
      }
    }
    // The rollups score reads use, as the API keeps them.
    await rebuildRejectionRollup(ds, project.id);
    await rebuildScoreValues(ds, project.id);
    log(`  score rollups filled (${formatDuration((Date.now() - started) / 1000)})`);
    await ds.query('ANALYZE scores');
    await ds.query('ANALYZE score_rejections_hourly');
    await ds.query('ANALYZE score_values_hourly');
    const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM scores WHERE project_id = $1', [project.id]);
    return n;
  } finally {
    await ds.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1000' },
      project: { type: 'string' },
      days: { type: 'string', default: '30' },
      batch: { type: 'string', default: String(DEFAULT_BATCH_RUNS) },
      scores: { type: 'string', default: '0' },
      'add-scores': { type: 'string' },
    },
  });
  const scores = Number(values['add-scores'] ?? values.scores);
  if (!Number.isInteger(scores) || scores < 0) throw new Error('--scores must be a whole number');
  const runs = Number(values.runs);
  const days = Number(values.days);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive whole number');
  if (!(days > 0)) throw new Error('--days must be positive');
  const batch = Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1) throw new Error('--batch must be a positive whole number');
  const config = loadConfig();
  let url = config.databaseUrl;
  let embedded: EmbeddedPostgres | undefined;
  if (!url) {
    embedded = await EmbeddedPostgres.start(config.dataDir);
    url = embedded.url;
  }
  const project = values.project ?? `seed-${Date.now()}`;
  if (values['add-scores'] !== undefined) {
    if (!values.project) throw new Error('--add-scores needs --project (the seeded project)');
    try {
      const t = Date.now();
      const n = await seedScores(url, project, scores, console.log, batch);
      console.log(`Done in ${((Date.now() - t) / 1000).toFixed(1)} s: project "${project}" has ${n} scores.`);
    } finally {
      await embedded?.stop();
    }
    return;
  }
  console.log(`Seeding ${runs} runs into project "${project}" (${config.databaseUrl ? 'DATABASE_URL' : `embedded database in ${config.dataDir}`})`);
  try {
    const result = await seed(url, runs, project, days, console.log, batch);
    if (scores > 0) {
      const t = Date.now();
      const n = await seedScores(url, project, scores, console.log, batch);
      console.log(`  ${n} scores (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
    console.log(
      `Done in ${result.seconds.toFixed(1)} s: ${result.runs} runs, ${result.steps} steps, ${result.candidates} candidates.\n` +
        `Project ${result.projectId}, admin key (shown once): ${result.apiKey}`,
    );
  } finally {
    await embedded?.stop();
  }
}

if (isMainModule(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
