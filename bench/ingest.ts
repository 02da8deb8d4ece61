/**
 * Benchmark 2, batch event ingest: the SDK (XrayClient, 100-event batches) sending runs with
 * nested steps and small candidate sets through POST /v1/ingest as fast as it can, against
 * multi-row INSERTs of the same rows (the runs, steps and candidates those events leave behind,
 * in the same 100-event groups) into the same tables. Figures: events/s, p50/p99 batch latency.
 * Targets: at least 50% of the INSERT baseline's events/s; p99 of a 100-event batch < 50 ms.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { XrayClient } from '../libs/sdk/src/client.js';
import type { CandidateInput } from '../libs/sdk/src/candidates.js';
import type { Step, StepOptions } from '../libs/sdk/src/handles.js';
import { startApi } from './lib/api.js';
import { createDatabase } from './lib/database.js';
import { type BenchContext, type ComparisonResult, fmtNumber, printComparisons, range } from './lib/report.js';
import { printProfile, summarizeProfile } from './lib/profile.js';
import { percentile } from './lib/stats.js';

export interface IngestFigures {
  comparisons: ComparisonResult[];
  eventsPerSecond: number[];
  insertEventsPerSecond: number[];
  p50Ms: number;
  p99Ms: number;
  apiPeakRssMiB: number;
  apiIdleRssMiB: number;
}

/** One run of the workload: 13 events, 50 candidates, a nested step. */
interface PlannedStep {
  name: string;
  type: 'retrieval' | 'filter' | 'rank' | 'custom';
  input: unknown;
  output: unknown;
  reasoning?: string;
  candidates?: CandidateInput[];
  children?: PlannedStep[];
}

const EVENTS_PER_RUN = 13;

function planRun(i: number): { pipeline: string; input: unknown; output: unknown; steps: PlannedStep[] } {
  const cands = (n: number, keep: number): CandidateInput[] =>
    Array.from({ length: n }, (_, j) => ({
      key: `B0${(i * 31 + j) % 100_000}`,
      decision: j < keep ? 'accepted' : 'rejected',
      score: (j % 10) / 10,
      ...(j < keep ? {} : { reason: j % 2 ? 'price above $50' : 'rating below 4' }),
      evaluations: [{ check: 'price', passed: j < keep, detail: `$${20 + j}` }],
      data: { price: 20 + j },
    }));
  return {
    pipeline: 'bench-ingest',
    input: { title: `Product ${i}`, market: 'uk' },
    output: { selected: `B0${i % 100_000}` },
    steps: [
      { name: 'search', type: 'retrieval', input: { q: `product ${i}` }, output: { hits: 20 }, candidates: cands(20, 20) },
      {
        name: 'filter-by-price',
        type: 'filter',
        input: { maxPrice: 50 },
        output: { kept: 8 },
        reasoning: 'kept items under $50',
        candidates: cands(20, 8),
        children: [{ name: 'price-rule', type: 'custom', input: { rule: 'price <= 50' }, output: { ok: true } }],
      },
      { name: 'rank', type: 'rank', input: { by: 'score' }, output: { top: `B0${i % 100_000}` }, candidates: cands(10, 1) },
    ],
  };
}

/** Records one planned run through the SDK, the way an instrumented pipeline would. */
async function recordRun(xray: XrayClient, i: number): Promise<void> {
  const plan = planRun(i);
  const run = await xray.startRun({ pipeline: plan.pipeline, input: plan.input, tags: ['bench'] });
  const record = (s: PlannedStep, parent: { startStep(name: string, opts?: StepOptions): Step }) => {
    const step = parent.startStep(s.name, { type: s.type, input: s.input });
    for (const child of s.children ?? []) record(child, step);
    if (s.candidates) step.candidates(s.candidates);
    step.complete({ output: s.output, reasoning: s.reasoning });
  };
  for (const s of plan.steps) record(s, run);
  await run.complete({ output: plan.output });
}

/** The rows the events of runs [from, to) leave behind, written with three multi-row INSERTs. */
async function insertRows(client: pg.Client, projectId: string, from: number, to: number): Promise<void> {
  const runs: unknown[][] = [];
  const steps: unknown[][] = [];
  const candidates: unknown[][] = [];
  const now = new Date();
  for (let i = from; i < to; i++) {
    const plan = planRun(i);
    const runId = randomUUID();
    runs.push([runId, projectId, plan.pipeline, 'success', JSON.stringify(plan.input), JSON.stringify(plan.output), '{}', ['bench'], now, now]);
    const add = (s: PlannedStep, parent: string | null, position: number) => {
      const id = randomUUID();
      const n = s.candidates?.length ?? 0;
      const out = s.candidates?.filter((c) => c.decision !== 'rejected').length ?? 0;
      steps.push([
        id,
        projectId,
        runId,
        parent,
        plan.pipeline,
        s.name,
        s.type,
        position,
        'success',
        JSON.stringify(s.input),
        JSON.stringify(s.output),
        s.reasoning ?? null,
        '{}',
        now,
        now,
        n,
        out,
        n || null,
        n ? out : null,
        now,
      ]);
      (s.children ?? []).forEach((c, k) => add(c, id, k));
      for (const c of s.candidates ?? []) {
        candidates.push([
          projectId,
          runId,
          id,
          c.key,
          c.decision,
          c.score ?? null,
          c.rank ?? null,
          c.reason ?? null,
          JSON.stringify(c.evaluations ?? null),
          JSON.stringify(c.data ?? null),
          now,
        ]);
      }
    };
    plan.steps.forEach((s, k) => add(s, null, k));
  }
  const insert = async (sql: string, rows: unknown[][]) => {
    if (rows.length === 0) return;
    const params: unknown[] = [];
    const tuples = rows.map((r) => `(${r.map((v) => (params.push(v), `$${params.length}`)).join(', ')})`);
    await client.query(`${sql} VALUES ${tuples.join(', ')}`, params);
  };
  await insert('INSERT INTO runs (id, project_id, pipeline, status, input, output, metadata, tags, started_at, ended_at)', runs);
  await insert(
    `INSERT INTO steps (id, project_id, run_id, parent_step_id, pipeline, name, type, position, status, input, output, reasoning,
                        metadata, started_at, ended_at, stored_in, stored_out, reported_in, reported_out, run_started_at)`,
    steps,
  );
  await insert('INSERT INTO candidates (project_id, run_id, step_id, key, decision, score, rank, reason, evaluations, data, run_started_at)', candidates);
}

export async function benchIngest(ctx: BenchContext): Promise<IngestFigures> {
  const { log } = ctx;
  const runsPerRound = ctx.smoke ? 20 : 1_500;
  const roundCount = ctx.rounds ?? (ctx.smoke ? 1 : 3);
  const batchEvents = 100;
  const db = await createDatabase(ctx.adminUrl, 'ingest');
  const api = await startApi({ databaseUrl: db.url, mode: ctx.mode, env: { XRAY_RATE_LIMIT: '0' }, profile: ctx.profile });
  const client = new pg.Client({ connectionString: db.url });
  try {
    const idle = api.memory();
    const key = await api.newProject('bench-ingest');
    await client.connect();
    const [{ id: projectId }] = (await client.query(`SELECT project_id AS id FROM api_keys LIMIT 1`)).rows;

    const latencies: { ms: number; events: number }[] = [];
    let first = Infinity;
    let last = 0;
    const timedFetch: typeof fetch = async (input, init) => {
      const events = typeof init?.body === 'string' ? (init.body.match(/","timestamp":"/g)?.length ?? 0) : 0;
      const t = performance.now();
      first = Math.min(first, t);
      const res = await fetch(input, init);
      const text = await res.text();
      const end = performance.now();
      last = Math.max(last, end);
      if (res.status !== 207) throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
      latencies.push({ ms: end - t, events });
      return new Response(text, { status: res.status, headers: res.headers });
    };

    /** One round through the SDK: record everything, then let the transport drain. */
    const viaSdk = async (from: number, count: number) => {
      const errors: string[] = [];
      const xray = new XrayClient({
        baseUrl: api.baseUrl,
        apiKey: key,
        maxBatchEvents: batchEvents,
        flushIntervalMs: 5,
        maxBufferEvents: count * EVENTS_PER_RUN + 1000,
        exitFlushTimeoutMs: 0,
        fetch: timedFetch,
        onError: (e) => errors.push(`${e.kind}: ${e.message}`),
      });
      first = Infinity;
      last = 0;
      latencies.length = 0;
      for (let i = from; i < from + count; i++) await recordRun(xray, i);
      const drained = await xray.flush({ timeoutMs: 300_000 });
      const stats = xray.stats();
      await xray.shutdown({ timeoutMs: 1000 });
      if (!drained || stats.sent !== count * EVENTS_PER_RUN || errors.length) {
        throw new Error(`the SDK did not deliver everything: ${JSON.stringify(stats)} ${errors.slice(0, 3).join('; ')}`);
      }
      return { ms: last - first, batches: [...latencies] };
    };

    const viaInsert = async (from: number, count: number) => {
      const runsPerGroup = Math.max(1, Math.round(batchEvents / EVENTS_PER_RUN));
      const started = performance.now();
      for (let i = from; i < from + count; i += runsPerGroup) await insertRows(client, projectId, i, Math.min(from + count, i + runsPerGroup));
      return performance.now() - started;
    };

    await viaSdk(0, Math.min(runsPerRound, 200));
    await viaInsert(0, Math.min(runsPerRound, 200));

    const sdkRates: number[] = [];
    const insertRates: number[] = [];
    const allBatches: { ms: number; events: number }[] = [];
    for (let r = 0; r < roundCount; r++) {
      const from = (r + 1) * runsPerRound;
      const events = runsPerRound * EVENTS_PER_RUN;
      await client.query('CHECKPOINT');
      const profiling = api.profiler && r === roundCount - 1;
      if (profiling) await api.profiler!.start();
      const sdk = await viaSdk(from, runsPerRound);
      if (profiling) printProfile(log, summarizeProfile(await api.profiler!.stop()));
      await client.query('CHECKPOINT');
      const insertMs = await viaInsert(from, runsPerRound);
      sdkRates.push(events / (sdk.ms / 1000));
      insertRates.push(events / (insertMs / 1000));
      allBatches.push(...sdk.batches);
      const full = sdk.batches.filter((b) => b.events === batchEvents).map((b) => b.ms);
      log(
        `  round ${r + 1}/${roundCount}: SDK→API ${fmtNumber(events / (sdk.ms / 1000))} events/s (${sdk.batches.length} batches, p50 ${percentile(full, 50).toFixed(1)} ms, p99 ${percentile(full, 99).toFixed(1)} ms), INSERT ${fmtNumber(events / (insertMs / 1000))} events/s`,
      );
    }
    const full = allBatches.filter((b) => b.events === batchEvents).map((b) => b.ms);
    const p50 = percentile(full, 50);
    const p99 = percentile(full, 99);
    const peak = api.memory().peakRssMiB;
    log(
      `${fmtNumber(runsPerRound)} runs per round (${EVENTS_PER_RUN} events each: 4 steps, one nested, 50 candidates), ${batchEvents}-event batches; ${roundCount} rounds`,
    );
    const comparisons = printComparisons(log, [
      {
        metric: 'SDK → POST /v1/ingest',
        unit: 'events/s',
        values: sdkRates,
        baseline: 'multi-row INSERT',
        baselineValues: insertRates,
        higherIsBetter: true,
        targetRatio: 0.5,
      },
    ]);
    log(
      `batch latency over ${full.length} ${batchEvents}-event batches: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...full).toFixed(1)} ms (target p99 < 50 ms: ${p99 < 50 ? 'met' : 'MISSED'})`,
    );
    log(`API resident memory: ${idle.rssMiB.toFixed(0)} MiB idle, peak ${peak.toFixed(0)} MiB; events/s per round ${range(sdkRates)}`);
    return {
      comparisons,
      eventsPerSecond: sdkRates,
      insertEventsPerSecond: insertRates,
      p50Ms: p50,
      p99Ms: p99,
      apiPeakRssMiB: peak,
      apiIdleRssMiB: idle.rssMiB,
    };
  } finally {
    await client.end().catch(() => undefined);
    await api.stop();
    await db.drop();
  }
}
