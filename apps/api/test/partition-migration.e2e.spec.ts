import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { generateApiKey } from '../src/auth/api-key.util.js';
import { createDataSource } from '../src/database/data-source.js';
import { EmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { migrations } from '../src/database/migrations/index.js';
import { PartitionedStorage1795600000000 } from '../src/database/migrations/1795600000000-PartitionedStorage.js';
import { createTestApp, createTestDatabase, type TestApp, usingRealPostgres } from './harness.js';

const DAY = 86_400_000;

/**
 * An existing database, written by the release before the partitioned layout (its migrations,
 * its triggers), is migrated in place: every run, step and candidate is moved, progress is
 * printed, the counters and rollups are right, and the API answers from the new layout.
 */
describe('migrating an existing database to the partitioned layout', () => {
  let url: string;
  let cleanup: () => Promise<void>;
  let t: TestApp;
  const projectId = randomUUID();
  const base = Date.parse('2026-10-10T20:00:00.000Z');
  const before: Record<string, unknown[]> = {};
  const progress: string[] = [];

  /** The rows the migration must keep, in a stable order (generated and rollup columns aside). */
  const snapshot = async (query: (sql: string) => Promise<unknown[]>) => ({
    runs: await query(`SELECT id, pipeline, status, started_at, ended_at, metadata FROM runs ORDER BY id`),
    steps: await query(
      `SELECT id, run_id, parent_step_id, name, type, position, status, started_at, ended_at, stored_in, stored_out, candidates_in, candidates_out
       FROM steps ORDER BY id`,
    ),
    candidates: await query(`SELECT step_id, key, decision, score, rank, reason, evaluations, data, created_at FROM candidates ORDER BY step_id, key`),
  });

  beforeAll(async () => {
    if (usingRealPostgres()) {
      const db = await createTestDatabase(process.env.DATABASE_URL!);
      url = db.url;
      cleanup = db.drop;
    } else {
      const embedded = await EmbeddedPostgres.start('memory://');
      url = embedded.url;
      cleanup = () => embedded.stop();
    }
    // The schema as the previous release left it, and data written through it.
    const previous = migrations.slice(0, migrations.indexOf(PartitionedStorage1795600000000));
    const old = createDataSource({ url, poolSize: 1 });
    old.setOptions({ migrations: previous });
    await old.initialize();
    await old.runMigrations({ transaction: 'each' });
    await old.query(`INSERT INTO projects (id, name) VALUES ($1, 'migrated')`, [projectId]);
    for (let i = 0; i < 12; i++) {
      const runId = randomUUID();
      const started = new Date(base + i * 7 * 3_600_000); // every 7 hours: runs on 5 days, some across midnight
      await old.query(`INSERT INTO runs (id, project_id, pipeline, status, started_at, ended_at, metadata) VALUES ($1, $2, 'migrate-me', $3, $4, $5, $6)`, [
        runId,
        projectId,
        i % 4 === 3 ? 'error' : 'success',
        started,
        new Date(started.getTime() + 2 * 3_600_000),
        { i },
      ]);
      const filter = randomUUID();
      const nested = randomUUID();
      await old.query(
        `INSERT INTO steps (id, project_id, run_id, parent_step_id, pipeline, name, type, position, status, started_at, ended_at)
         VALUES ($1, $2, $3, NULL, 'migrate-me', 'filter', 'filter', 0, 'success', $4, $5),
                ($6, $2, $3, $1, 'migrate-me', 'rule', 'custom', 0, 'success', $5, $5)`,
        [filter, projectId, runId, new Date(started.getTime() + 90 * 60_000), new Date(started.getTime() + 100 * 60_000), nested],
      );
      await old.query(
        `INSERT INTO candidates (project_id, run_id, step_id, key, decision, score, reason, evaluations, data)
         SELECT $1, $2, $3, 'item-' || g, CASE WHEN g % 3 = 0 THEN 'accepted' ELSE 'rejected' END, g / 10.0,
                CASE WHEN g % 3 <> 0 THEN (ARRAY['price', 'rating'])[1 + g % 2] END,
                jsonb_build_array(jsonb_build_object('check', 'price', 'passed', g % 3 = 0)), jsonb_build_object('n', g)
         FROM generate_series(1, 10 + $4::int) g`,
        [projectId, runId, filter, i],
      );
      await old.query(
        `UPDATE steps s SET stored_in = c.n, stored_out = c.k FROM (SELECT count(*)::int AS n, count(*) FILTER (WHERE decision <> 'rejected')::int AS k FROM candidates WHERE step_id = $1) c WHERE s.id = $1`,
        [filter],
      );
    }
    Object.assign(before, await snapshot((q) => old.query(q)));
    await old.destroy();

    // The current release starts on it: the migration runs at start-up.
    // The migration reports through the server's logger (JSON lines in production).
    const spy = jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => void progress.push(String(message)));
    try {
      t = await createTestApp({}, { shareDatabaseWith: { databaseUrl: url } as TestApp });
    } finally {
      spy.mockRestore();
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await cleanup?.();
  });

  it('moves every row, day by day, printing its progress', async () => {
    expect(progress.some((l) => /copying 24 steps and 186 candidates over 5 day\(s\) of runs/.test(l))).toBe(true);
    expect(progress.filter((l) => /day \d\/5 \(2026-10-1\d\): \d+ steps, \d+ candidates; \d+\/24 steps, \d+\/186 candidates/.test(l))).toHaveLength(5);
    expect(await snapshot((q) => t.sql(q))).toEqual(before);
    // Each step and candidate is in its run's day partition.
    const misplaced = await t.sql(
      `SELECT s.id FROM steps s JOIN runs r ON r.project_id = s.project_id AND r.id = s.run_id
       WHERE s.run_started_at <> r.started_at OR regexp_replace(s.tableoid::regclass::text, '_[0-9]+$', '') <> 'steps_d' || to_char(r.started_at AT TIME ZONE 'UTC', 'YYYYMMDD')`,
    );
    expect(misplaced).toEqual([]);
    const old = await t.sql(`SELECT relname FROM pg_class WHERE relname IN ('steps_old', 'candidates_old', 'ingest_events_old')`);
    expect(old).toEqual([]);
  });

  it('answers from the new layout: run trees, candidates, analytics by the run’s start, and new writes', async () => {
    const key = await newKey(t, projectId);
    const auth = { Authorization: `Bearer ${key}` };
    const runs = await t.sql<{ id: string }>(`SELECT id FROM runs ORDER BY started_at LIMIT 1`);
    const detail = await request(t.http).get(`/v1/runs/${runs[0].id}`).set(auth);
    expect(detail.status).toBe(200);
    expect(detail.body.steps).toEqual([
      expect.objectContaining({ name: 'filter', candidatesIn: 10, candidatesOut: 3, children: [expect.objectContaining({ name: 'rule' })] }),
    ]);
    const analytics = await request(t.http)
      .get('/v1/analytics/pipelines/migrate-me')
      .query({ from: new Date(base - DAY).toISOString(), to: new Date(base + 5 * DAY).toISOString() })
      .set(auth);
    expect(analytics.body.runs.total).toBe(12);
    expect(analytics.body.steps).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'filter', count: 12 }), expect.objectContaining({ name: 'rule', count: 12 })]),
    );
    const [{ rejected }] = await t.sql<{ rejected: number }>(`SELECT count(*)::int AS rejected FROM candidates WHERE decision = 'rejected'`);
    const reasons = analytics.body.topRejectionReasons[0].reasons.reduce((n: number, r: { count: number }) => n + r.count, 0);
    expect(reasons).toBe(rejected);
    // A new run with candidates, written after the migration.
    const runId = randomUUID();
    const stepId = randomUUID();
    const res = await request(t.http)
      .post('/v1/ingest')
      .set(auth)
      .send({
        events: [
          { id: randomUUID(), type: 'run-create', body: { id: runId, pipeline: 'migrate-me' } },
          { id: randomUUID(), type: 'step-create', body: { id: stepId, runId, name: 'filter', type: 'filter' } },
          { id: randomUUID(), type: 'candidates-create', body: { stepId, candidates: [{ key: 'new', decision: 'accepted' }] } },
        ],
      });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201]);
  });
});

/** An ingest-and-read key for the migrated project, stored as the API stores keys. */
async function newKey(t: TestApp, projectId: string): Promise<string> {
  const key = generateApiKey();
  await t.sql(`INSERT INTO api_keys (id, project_id, name, prefix, hash, scopes) VALUES ($1, $2, 'after migration', $3, $4, '{ingest,read}')`, [
    randomUUID(),
    projectId,
    key.prefix,
    key.hash,
  ]);
  return key.key;
}
