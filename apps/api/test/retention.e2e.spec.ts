import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { dayOf, partitionName } from '../src/database/partitions.js';
import { Retention } from '../src/maintenance/retention.js';
import { createTestApp, type TestApp } from './harness.js';

const DAY = 86_400_000;

/**
 * Time partitions and retention (XRAY_RETENTION_DAYS=30): runs spread over 45 days, a run that
 * spans midnight, replays across a partition boundary, then one retention round. Everything is
 * checked against the raw rows: what is outside the window is gone (rows, partitions, rollups,
 * analytics), what is inside it is untouched.
 */
describe('time partitions and retention', () => {
  let t: TestApp;
  let key: string;
  let projectId: string;
  const pipeline = 'retention-check';
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const now = Date.now();
  const today = dayOf(now).getTime();
  /** Runs by start, in days from today's UTC midnight: the window of 30 days keeps today-30 and later. */
  const starts = [-45 + 0.125, -40.5, -30 - 1 / 24, -30 + 1 / 24, -29, -10, -1, (now - 60_000 - today) / DAY];
  const runs = new Map<number, { runId: string; stepId: string; startedAt: string }>();

  const ingest = async (events: unknown[]) => {
    const res = await request(t.http).post('/v1/ingest').set(auth()).send({ events });
    expect(res.status).toBe(207);
    return res.body.results as { status: number }[];
  };
  const ev = (type: string, body: Record<string, unknown>, id = randomUUID()) => ({ id, type, body });
  const candidates = (n: number) =>
    Array.from({ length: n }, (_, j) => ({
      key: `item-${j}`,
      decision: j % 3 === 0 ? 'accepted' : 'rejected',
      reason: j % 3 === 0 ? undefined : ['price', 'rating'][j % 2],
    }));

  beforeAll(async () => {
    t = await createTestApp({ XRAY_RETENTION_DAYS: '30', XRAY_SWEEP_INTERVAL: '0' });
    ({ id: projectId, key } = await t.newProject('retention'));
    for (const start of starts) {
      const runId = randomUUID();
      const stepId = randomUUID();
      const startedAt = new Date(today + start * DAY).toISOString();
      runs.set(start, { runId, stepId, startedAt });
      const results = await ingest([
        ev('run-create', { id: runId, pipeline, startedAt }),
        ev('step-create', { id: stepId, runId, name: 'filter', type: 'filter', startedAt }),
        ev('candidates-create', { stepId, candidates: candidates(9) }),
        ev('step-update', { id: stepId, status: 'success', endedAt: new Date(Date.parse(startedAt) + 1500).toISOString() }),
        ev('run-update', { id: runId, status: 'success', endedAt: new Date(Date.parse(startedAt) + 2000).toISOString() }),
      ]);
      expect(results.map((r) => r.status)).toEqual([201, 201, 201, 200, 200]);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  it('keeps a run that spans midnight whole, in the partition of the day it started, and replays across the boundary change nothing', async () => {
    const runId = randomUUID();
    const stepId = randomUUID();
    const late = new Date(today - 1000).toISOString(); // 23:59:59 yesterday
    const batch = [
      ev('run-create', { id: runId, pipeline: 'midnight', startedAt: late }),
      ev('step-create', { id: stepId, runId, name: 'after-midnight', type: 'filter', startedAt: new Date(today + 5000).toISOString() }),
      ev('candidates-create', { stepId, candidates: candidates(6) }),
    ];
    expect((await ingest(batch)).map((r) => r.status)).toEqual([201, 201, 201]);
    // The same batch under new event ids (not deduplicated by event id): entity ids upsert.
    expect((await ingest(batch.map((e) => ({ ...e, id: randomUUID() })))).map((r) => r.status)).toEqual([200, 200, 201]);
    const yesterday = new Date(today - DAY);
    const where = await t.sql<{ part: string; n: number }>(
      `SELECT regexp_replace(tableoid::regclass::text, '_[0-9]+$', '') AS part, count(*)::int AS n FROM candidates WHERE project_id = $1 AND step_id = $2 GROUP BY 1`,
      [projectId, stepId],
    );
    expect(where).toEqual([{ part: partitionName('candidates', yesterday), n: 6 }]);
    const steps = await t.sql<{ part: string }>(
      `SELECT regexp_replace(tableoid::regclass::text, '_[0-9]+$', '') AS part FROM steps WHERE project_id = $1 AND id = $2`,
      [projectId, stepId],
    );
    expect(steps).toEqual([{ part: partitionName('steps', yesterday) }]);
    const detail = await request(t.http).get(`/v1/runs/${runId}`).set(auth());
    expect(detail.body.steps).toEqual([expect.objectContaining({ id: stepId, candidatesIn: 6, candidatesOut: 2 })]);

    // An event id remembered yesterday (its row in yesterday's partition) is still recognised.
    const eventId = randomUUID();
    const update = ev('step-update', { id: stepId, reasoning: 'kept the cheap ones' }, eventId);
    expect((await ingest([update])).map((r) => r.status)).toEqual([200]);
    // (The time as a value: Citus refuses a STABLE expression over a column in an UPDATE.)
    const [{ created }] = await t.sql<{ created: Date }>(`SELECT created_at AS created FROM ingest_events WHERE project_id = $1 AND event_id = $2`, [
      projectId,
      eventId,
    ]);
    await t.sql(`UPDATE ingest_events SET created_at = $3 WHERE project_id = $1 AND event_id = $2`, [
      projectId,
      eventId,
      new Date(new Date(created).getTime() - 86_400_000),
    ]);
    expect(
      (await t.sql(`SELECT regexp_replace(tableoid::regclass::text, '_[0-9]+$', '') AS part FROM ingest_events WHERE event_id = $1`, [eventId]))[0],
    ).toEqual({
      part: partitionName('ingest_events', yesterday),
    });
    const replay = await request(t.http)
      .post('/v1/ingest')
      .set(auth())
      .send({ events: [update] });
    expect(replay.body.results).toEqual([{ id: eventId, status: 200 }]);
    expect((await t.sql(`SELECT count(*)::int AS n FROM ingest_events WHERE event_id = $1`, [eventId]))[0]).toEqual({ n: 1 });
  });

  it('drops whole days past the retention, their runs, steps, candidates and rollups, and nothing inside it', async () => {
    const keptFrom = today - 30 * DAY;
    const inside = [...runs.entries()].filter(([, r]) => Date.parse(r.startedAt) >= keptFrom);
    const outside = [...runs.entries()].filter(([, r]) => Date.parse(r.startedAt) < keptFrom);
    expect(outside.map(([start]) => start)).toEqual(starts.slice(0, 3));
    const countsOf = async (ids: string[]) =>
      (
        await t.sql<{ runs: number; steps: number; candidates: number }>(
          `SELECT (SELECT count(*) FROM runs WHERE project_id = $1 AND id = ANY($2::uuid[]))::int AS runs,
                  (SELECT count(*) FROM steps WHERE project_id = $1 AND run_id = ANY($2::uuid[]))::int AS steps,
                  (SELECT count(*) FROM candidates WHERE project_id = $1 AND run_id = ANY($2::uuid[]))::int AS candidates`,
          [projectId, ids],
        )
      )[0];
    const insideIds = inside.map(([, r]) => r.runId);
    const before = await countsOf(insideIds);
    expect(before).toEqual({ runs: inside.length, steps: inside.length, candidates: 9 * inside.length });

    const report = await t.app.get(Retention).apply(new Date(now));
    expect(report.keptFrom).toEqual(new Date(keptFrom));
    expect(report.runsDeleted).toBe(outside.length);
    expect(await countsOf(outside.map(([, r]) => r.runId))).toEqual({ runs: 0, steps: 0, candidates: 0 });
    expect(await countsOf(insideIds)).toEqual(before);
    for (const [, r] of outside) expect((await request(t.http).get(`/v1/runs/${r.runId}`).set(auth())).status).toBe(404);

    // No partition of a day before the window remains; the window's days are all there.
    const parts = await t.sql<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent IN ('steps'::regclass, 'candidates'::regclass, 'run_stats_hourly'::regclass)`,
    );
    for (const [, r] of outside) expect(parts.map((p) => p.name)).not.toContain(partitionName('steps', dayOf(Date.parse(r.startedAt))));
    for (const [, r] of inside) expect(parts.map((p) => p.name)).toContain(partitionName('candidates', dayOf(Date.parse(r.startedAt))));

    // Rollups and analytics count exactly what is left.
    const [{ n: oldRollups }] = await t.sql<{ n: number }>(
      `SELECT (SELECT count(*) FROM run_stats_hourly WHERE hour < $1) + (SELECT count(*) FROM run_stats_daily WHERE day < $1)
            + (SELECT count(*) FROM step_stats_daily WHERE day < $1) + (SELECT count(*) FROM reason_counts_daily WHERE day < $1) AS n`,
      [new Date(keptFrom)],
    );
    expect(Number(oldRollups)).toBe(0);
    const analytics = await request(t.http)
      .get(`/v1/analytics/pipelines/${pipeline}`)
      .query({ from: new Date(now - 60 * DAY).toISOString(), to: new Date(now + DAY).toISOString() })
      .set(auth());
    expect(analytics.status).toBe(200);
    expect(analytics.body.runs.total).toBe(inside.length);
    expect(analytics.body.steps).toEqual([expect.objectContaining({ name: 'filter', count: inside.length })]);
    const rejected = analytics.body.topRejectionReasons[0].reasons.reduce((n: number, r: { count: number }) => n + r.count, 0);
    expect(rejected).toBe(6 * inside.length);
  });

  it('takes a late run for a day already past the retention, and removes it at the next round', async () => {
    const runId = randomUUID();
    const startedAt = new Date(today - 50 * DAY).toISOString();
    const created = await request(t.http).post('/v1/runs').set(auth()).send({ id: runId, pipeline, startedAt });
    expect(created.status).toBe(201);
    expect((await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send({ name: 'late', startedAt })).status).toBe(201);
    const report = await t.app.get(Retention).apply(new Date(now));
    expect(report.runsDeleted).toBe(1);
    expect((await request(t.http).get(`/v1/runs/${runId}`).set(auth())).status).toBe(404);
  });
});
