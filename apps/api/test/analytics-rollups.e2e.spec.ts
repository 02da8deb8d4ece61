import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { percentileFromBuckets } from '../src/analytics/analytics.service.js';
import { RunTimeoutSweeper } from '../src/maintenance/run-timeout.sweeper.js';
import { createTestApp, type TestApp } from './harness.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Pipeline analytics reads hourly and daily rollups kept by triggers. These tests write data
 * through every path that changes what the rollups hold (grouped and single inserts, updates,
 * replays that change decisions and reasons, a run moved to another day, the timeout sweep)
 * and then check two things against the raw tables: every rollup row, and the analytics
 * answer over ranges whose edges fall mid-hour, mid-day and on day boundaries.
 */
describe('analytics rollups', () => {
  let t: TestApp;
  let key: string;
  let projectId: string;
  const pipeline = 'rollup-check';
  // 2026-05-01T03:20Z, then a run every 2 h 37 min: 46 runs over five days.
  const base = Date.parse('2026-05-01T03:20:00.000Z');
  const at = (ms: number) => new Date(base + ms).toISOString();
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const ingest = async (events: unknown[]) => {
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.status).toBe(207);
    expect(res.body.results.filter((r: { status: number }) => r.status >= 300)).toEqual([]);
  };
  const runIds: string[] = [];
  const filterIds: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    ({ id: projectId, key } = await t.newProject('rollups'));
    const events: unknown[] = [];
    const ev = (type: string, body: Record<string, unknown>) => events.push({ id: randomUUID(), type, body });
    for (let i = 0; i < 46; i++) {
      const runId = randomUUID();
      const filter = randomUUID();
      const rank = randomUUID();
      runIds.push(runId);
      filterIds.push(filter);
      const start = i * (2 * HOUR + 37 * 60_000);
      ev('run-create', { id: runId, pipeline, startedAt: at(start) });
      ev('step-create', { id: filter, runId, name: 'filter', type: 'filter', startedAt: at(start + 59 * 60_000) });
      ev('candidates-create', {
        stepId: filter,
        candidates: Array.from({ length: 10 + (i % 7) }, (_, j) => ({
          key: `k${j}`,
          decision: j < 3 + (i % 4) ? 'accepted' : 'rejected',
          reason: j < 3 + (i % 4) ? undefined : ['price', 'rating', 'stock'][(i + j) % 3],
        })),
      });
      ev('step-update', { id: filter, status: 'success', endedAt: at(start + 59 * 60_000 + 20 * (i + 1)) });
      ev('step-create', { id: rank, runId, name: 'rank', type: 'rank', startedAt: at(start + 61 * 60_000) });
      if (i % 5 === 4) ev('step-update', { id: rank, status: 'error', endedAt: at(start + 61 * 60_000 + 3000 + i) });
      else if (i !== 45) ev('step-update', { id: rank, status: 'success', endedAt: at(start + 61 * 60_000 + 500 * (i % 9)) });
      if (i % 5 === 4) ev('run-update', { id: runId, status: 'error', error: { type: 'RankError', message: 'rank failed' } });
      else if (i % 11 === 3) ev('run-update', { id: runId, status: 'cancelled' });
      else if (i < 44) ev('run-update', { id: runId, status: 'success' });
    }
    await ingest(events);

    // Single-path writes and changes after the fact.
    const replay = await request(t.http)
      .post(`/v1/steps/${filterIds[7]}/candidates`)
      .set(auth())
      .send({
        candidates: [
          { key: 'k0', decision: 'rejected', reason: 'late' },
          { key: 'k9', decision: 'accepted' },
          { key: 'new', decision: 'rejected', reason: 'price' },
        ],
      });
    expect(replay.status).toBe(201);
    expect(
      (
        await request(t.http)
          .patch(`/v1/runs/${runIds[10]}`)
          .set(auth())
          .send({ status: 'error', error: { message: 'reclassified' } })
      ).status,
    ).toBe(200);
    expect((await request(t.http).patch(`/v1/steps/${filterIds[12]}`).set(auth()).send({ status: 'error' })).status).toBe(200);
    // A replayed create that moves run 20 two days later (a fix of its start time).
    expect(
      (
        await request(t.http)
          .post('/v1/runs')
          .set(auth())
          .send({ id: runIds[20], pipeline, startedAt: at(20 * (2 * HOUR + 37 * 60_000) + 2 * DAY) })
      ).status,
    ).toBe(200);
    // Runs 44 and 45 are still running, days ago: the sweep times them out.
    await t.app.get(RunTimeoutSweeper).sweepOnce();
  });
  afterAll(async () => t?.close());

  it('every hourly and daily rollup row equals the aggregate of the raw rows', async () => {
    const grains = [
      ['hourly', 'hour'],
      ['daily', 'day'],
    ] as const;
    for (const [suffix, grain] of grains) {
      const checks: [string, string, string][] = [
        [
          `run_stats_${suffix}`,
          `SELECT pipeline, ${grain}, status, count FROM run_stats_${suffix} WHERE project_id = $1 AND count <> 0`,
          `SELECT pipeline, date_trunc('${grain}', started_at, 'UTC'), status, count(*)::int FROM runs WHERE project_id = $1 GROUP BY 1, 2, 3`,
        ],
        [
          `step_stats_${suffix}`,
          `SELECT pipeline, ${grain}, name, steps, failed, finished, round(ratio_sum::numeric, 9), ratio_n FROM step_stats_${suffix} WHERE project_id = $1 AND steps <> 0`,
          `SELECT pipeline, date_trunc('${grain}', run_started_at, 'UTC'), name, count(*)::int, count(*) FILTER (WHERE status IN ('error', 'timed_out'))::int,
                  count(*) FILTER (WHERE status <> 'running')::int, round(coalesce(sum(elimination_ratio), 0)::numeric, 9), count(elimination_ratio)::int
           FROM steps WHERE project_id = $1 GROUP BY 1, 2, 3`,
        ],
        [
          `step_durations_${suffix}`,
          `SELECT pipeline, ${grain}, name, bucket, count FROM step_durations_${suffix} WHERE project_id = $1 AND count <> 0`,
          `SELECT pipeline, date_trunc('${grain}', run_started_at, 'UTC'), name, xray_duration_bucket(duration_ms), count(*)::int
           FROM steps WHERE project_id = $1 AND duration_ms IS NOT NULL GROUP BY 1, 2, 3, 4`,
        ],
        [
          `reason_counts_${suffix}`,
          `SELECT pipeline, ${grain}, name, reason, count FROM reason_counts_${suffix} WHERE project_id = $1 AND count <> 0`,
          `SELECT s.pipeline, date_trunc('${grain}', s.run_started_at, 'UTC'), s.name, c.reason, count(*)::int
           FROM candidates c JOIN steps s ON s.project_id = c.project_id AND s.id = c.step_id
           WHERE s.project_id = $1 AND c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter' GROUP BY 1, 2, 3, 4`,
        ],
      ];
      for (const [table, rollup, raw] of checks) {
        const [{ rows }] = await t.sql<{ rows: number }>(`SELECT count(*)::int AS rows FROM (${rollup}) r`, [projectId]);
        const extra = await t.sql(`${rollup} EXCEPT ${raw}`, [projectId]);
        const missing = await t.sql(`${raw} EXCEPT ${rollup}`, [projectId]);
        expect({ table, extra, missing, empty: rows === 0 }).toEqual({ table, extra: [], missing: [], empty: false });
      }
    }
  });

  /** The answer computed from the raw tables, as the analytics endpoint documents it. */
  const expected = async (from: number, to: number) => {
    const bucket = to - from <= 2 * DAY ? 'hour' : 'day';
    const range = [projectId, pipeline, new Date(from), new Date(to)];
    const statusRows = await t.sql<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM runs WHERE project_id = $1 AND pipeline = $2 AND started_at >= $3 AND started_at < $4 GROUP BY 1`,
      range,
    );
    const byStatus: Record<string, number> = { running: 0, success: 0, error: 0, cancelled: 0, timed_out: 0 };
    for (const r of statusRows) byStatus[r.status] = r.n;
    const seriesRows = await t.sql<{ start: Date; status: string; n: number }>(
      `SELECT date_trunc('${bucket}', started_at, 'UTC') AS start, status, count(*)::int AS n
       FROM runs WHERE project_id = $1 AND pipeline = $2 AND started_at >= $3 AND started_at < $4 GROUP BY 1, 2`,
      range,
    );
    const size = bucket === 'hour' ? HOUR : DAY;
    const points = [];
    for (let p = Math.floor(from / size) * size; p < to; p += size) {
      const rows = seriesRows.filter((r) => r.start.getTime() === p);
      const inBucket: Record<string, number> = { running: 0, success: 0, error: 0, cancelled: 0, timed_out: 0 };
      for (const r of rows) inBucket[r.status] = r.n;
      const runs = rows.reduce((n, r) => n + r.n, 0);
      points.push({ start: new Date(p).toISOString(), runs, errors: inBucket.error + inBucket.timed_out, byStatus: inBucket });
    }
    // Steps: by their run's start, the range widened to whole hours.
    const stepRange = [projectId, pipeline, new Date(Math.floor(from / HOUR) * HOUR), new Date(Math.ceil(to / HOUR) * HOUR)];
    const stepRows = await t.sql<{ name: string; count: number; failed: number; finished: number; ratio: number | null }>(
      `SELECT name, count(*)::int AS count, count(*) FILTER (WHERE status IN ('error', 'timed_out'))::int AS failed,
              count(*) FILTER (WHERE status <> 'running')::int AS finished, avg(elimination_ratio) AS ratio
       FROM steps WHERE project_id = $1 AND pipeline = $2 AND run_started_at >= $3 AND run_started_at < $4 GROUP BY 1 ORDER BY 2 DESC, 1`,
      stepRange,
    );
    const histogram = async (name: string) =>
      t.sql<{ bucket: number; n: number }>(
        `SELECT xray_duration_bucket(duration_ms) AS bucket, count(*)::int AS n FROM steps
         WHERE project_id = $1 AND pipeline = $2 AND run_started_at >= $3 AND run_started_at < $4 AND name = $5 AND duration_ms IS NOT NULL GROUP BY 1 ORDER BY 1`,
        [...stepRange, name],
      );
    const steps = [];
    for (const s of stepRows) {
      const h = await histogram(s.name);
      steps.push({
        name: s.name,
        count: s.count,
        errorRate: s.finished > 0 ? s.failed / s.finished : null,
        p50DurationMs: percentileFromBuckets(h, 0.5),
        p95DurationMs: percentileFromBuckets(h, 0.95),
        meanEliminationRatio: s.ratio === null ? null : Number(s.ratio),
      });
    }
    const reasonRows = await t.sql<{ step_name: string; reason: string; n: number }>(
      `SELECT s.name AS step_name, c.reason, count(*)::int AS n FROM candidates c JOIN steps s ON s.project_id = c.project_id AND s.id = c.step_id
       WHERE s.project_id = $1 AND s.pipeline = $2 AND s.run_started_at >= $3 AND s.run_started_at < $4
         AND c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter'
       GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2`,
      stepRange,
    );
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const finished = total - byStatus.running;
    return {
      runs: { total, byStatus, errorRate: finished > 0 ? (byStatus.error + byStatus.timed_out) / finished : null },
      steps,
      topRejectionReasons: [...new Set(reasonRows.map((r) => r.step_name))].map((stepName) => ({
        stepName,
        reasons: reasonRows
          .filter((r) => r.step_name === stepName)
          .slice(0, 10)
          .map((r) => ({ reason: r.reason, count: r.n })),
      })),
      timeSeries: { bucket, points },
    };
  };

  const day0 = Date.parse('2026-05-01T00:00:00.000Z');
  /** Run i starts at runStart(i): edges 5 minutes around a start put that run in a partial hour. */
  const runStart = (i: number) => base + i * (2 * HOUR + 37 * 60_000);
  const ranges: [string, number, number][] = [
    ['exact days (daily rollups only)', day0, day0 + 7 * DAY],
    ['mid-hour to mid-hour across days, runs in both partial hours', runStart(3) - 5 * 60_000, runStart(40) + 5 * 60_000],
    ['whole hours, partial days', day0 + 5 * HOUR, day0 + 3 * DAY + 19 * HOUR],
    ['within one hour', base - 5 * 60_000, base + 40 * 60_000],
    ['one day, hourly series, runs in both partial hours', runStart(9) - 5 * 60_000, runStart(17) + 5 * 60_000],
    ['two days and a bit (hourly series)', day0 + 23 * HOUR + 1, day0 + 3 * DAY + 23 * HOUR - 1],
    ['thirty days around the data', day0 - 20 * DAY + 13 * 60_000, day0 + 10 * DAY + 13 * 60_000],
  ];

  it.each(ranges)('answers exactly what the raw rows say: %s', async (_label, from, to) => {
    const res = await request(t.http)
      .get(`/v1/analytics/pipelines/${pipeline}`)
      .set(auth())
      .query({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
    expect(res.status).toBe(200);
    const want = await expected(from, to);
    expect(want.runs.total + want.steps.length).toBeGreaterThan(0);
    const { runs, steps, topRejectionReasons, timeSeries } = res.body;
    expect({ runs, topRejectionReasons, timeSeries }).toEqual({ runs: want.runs, topRejectionReasons: want.topRejectionReasons, timeSeries: want.timeSeries });
    expect(steps.map((s: { meanEliminationRatio: number | null }) => s.meanEliminationRatio)).toEqual(
      want.steps.map((s) => (s.meanEliminationRatio === null ? null : expect.closeTo(s.meanEliminationRatio, 9))),
    );
    expect(steps.map((s: object) => ({ ...s, meanEliminationRatio: 0 }))).toEqual(want.steps.map((s) => ({ ...s, meanEliminationRatio: 0 })));
  });
});
