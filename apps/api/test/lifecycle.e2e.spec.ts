import { createHash, randomUUID } from 'node:crypto';
import request from 'supertest';
import { DeletionService } from '../src/lifecycle/deletion.service.js';
import { RetentionJob } from '../src/lifecycle/retention.job.js';
import { createTestApp, expectError, type TestApp, usingRealPostgres } from './harness.js';
import { CapturingLogger } from './security/support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Deletion, erasure, retention and the deletion log, on one app: what a deletion removes
 * (rows, counters, every rollup the analytics reads), what it must never let back (replays,
 * with and without the dedupe memory of events), and who may do it.
 */
describe(`data lifecycle (${usingRealPostgres() ? 'PostgreSQL' : 'embedded'})`, () => {
  let t: TestApp;
  let logger: CapturingLogger;
  let project: { id: string; key: string };
  const keys = { ingest: '', read: '', delete: '', deleteId: '' };
  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const base = Date.now() - 3 * HOUR;
  const at = (ms: number) => new Date(base + ms).toISOString();

  beforeAll(async () => {
    logger = new CapturingLogger();
    t = await createTestApp({}, { logger });
    project = await t.newProject('lifecycle');
    const key = async (scopes: string[]) =>
      (
        await request(t.http)
          .post('/v1/api-keys')
          .set(as(project.key))
          .send({ name: scopes.join('+'), scopes })
          .expect(201)
      ).body as { id: string; key: string };
    keys.ingest = (await key(['ingest'])).key;
    keys.read = (await key(['read'])).key;
    const del = await key(['delete']);
    keys.delete = del.key;
    keys.deleteId = del.id;
  }, 120_000);
  afterAll(async () => t?.close());

  const ingest = async (events: unknown[], key = project.key) => {
    const res = await request(t.http).post('/v1/ingest').set(as(key)).send({ events });
    expect(res.status).toBe(207);
    return res.body.results as { id: string; status: number }[];
  };

  /** One run's events: a filter step with candidates (rejections with reasons), a rank step, the run completed. */
  function runEvents(pipeline: string, start: number, candidateKeys: string[], opts: { reportedIn?: number } = {}) {
    const runId = randomUUID();
    const filter = randomUUID();
    const rank = randomUUID();
    const ev = (type: string, body: Record<string, unknown>) => ({ id: randomUUID(), type, body });
    const events = [
      ev('run-create', { id: runId, pipeline, startedAt: at(start), input: { q: 'laptop stand' } }),
      ev('step-create', { id: filter, runId, name: 'filter', type: 'filter', startedAt: at(start + 1000) }),
      ev('candidates-create', {
        stepId: filter,
        candidates: candidateKeys.map((key, i) => ({
          key,
          decision: i % 3 === 0 ? 'accepted' : 'rejected',
          ...(i % 3 === 0 ? {} : { reason: i % 3 === 1 ? 'price' : 'rating' }),
          data: { title: `item ${key}` },
        })),
      }),
      ev('step-update', { id: filter, status: 'success', endedAt: at(start + 1500), ...(opts.reportedIn ? { candidatesIn: opts.reportedIn } : {}) }),
      ev('step-create', { id: rank, runId, name: 'rank', type: 'rank', startedAt: at(start + 2000) }),
      ev('step-update', { id: rank, status: 'error', endedAt: at(start + 2400) }),
      ev('run-update', { id: runId, status: 'success' }),
    ];
    return { runId, filter, rank, events };
  }

  const analytics = async (pipeline: string) =>
    (
      await request(t.http)
        .get(`/v1/analytics/pipelines/${pipeline}`)
        .query({ from: at(-DAY), to: at(DAY) })
        .set(as(keys.read))
        .expect(200)
    ).body;

  /** What the rollups hold for the project, against the raw rows (sums that do not depend on the hour a row is filed under). */
  const rollupTotals = async () => {
    const [row] = await t.sql<Record<string, number | string>>(
      `SELECT
         (SELECT coalesce(sum(count), 0)::int FROM run_stats_hourly WHERE project_id = $1) AS runs_hourly,
         (SELECT coalesce(sum(count), 0)::int FROM run_stats_daily WHERE project_id = $1) AS runs_daily,
         (SELECT count(*)::int FROM runs WHERE project_id = $1) AS runs,
         (SELECT coalesce(sum(steps), 0)::int FROM step_stats_hourly WHERE project_id = $1) AS steps_hourly,
         (SELECT coalesce(sum(steps), 0)::int FROM step_stats_daily WHERE project_id = $1) AS steps_daily,
         (SELECT count(*)::int FROM steps WHERE project_id = $1) AS steps,
         (SELECT coalesce(sum(ratio_n), 0)::int FROM step_stats_hourly WHERE project_id = $1) AS ratios_hourly,
         (SELECT round(coalesce(sum(ratio_sum), 0)::numeric, 6)::text FROM step_stats_daily WHERE project_id = $1) AS ratio_sum_daily,
         (SELECT count(elimination_ratio)::int FROM steps WHERE project_id = $1) AS ratios,
         (SELECT round(coalesce(sum(elimination_ratio), 0)::numeric, 6)::text FROM steps WHERE project_id = $1) AS ratio_sum,
         (SELECT coalesce(sum(count), 0)::int FROM step_durations_daily WHERE project_id = $1) AS durations_daily,
         (SELECT count(*)::int FROM steps WHERE project_id = $1 AND duration_ms IS NOT NULL) AS durations,
         (SELECT coalesce(sum(count), 0)::int FROM reason_counts_hourly WHERE project_id = $1) AS reasons_hourly,
         (SELECT coalesce(sum(count), 0)::int FROM reason_counts_daily WHERE project_id = $1) AS reasons_daily,
         (SELECT count(*)::int FROM candidates c JOIN steps s ON s.project_id = c.project_id AND s.id = c.step_id
           WHERE c.project_id = $1 AND c.decision = 'rejected' AND c.reason IS NOT NULL AND s.type = 'filter') AS reasons`,
      [project.id],
    );
    expect(row).toEqual({
      ...row,
      runs_hourly: row.runs,
      runs_daily: row.runs,
      steps_hourly: row.steps,
      steps_daily: row.steps,
      ratios_hourly: row.ratios,
      ratio_sum_daily: row.ratio_sum,
      durations_daily: row.durations,
      reasons_hourly: row.reasons,
      reasons_daily: row.reasons,
    });
    return row;
  };

  const storedOf = async (...ids: string[]) =>
    t.sql<{ runs: number; steps: number; candidates: number }>(
      `SELECT (SELECT count(*)::int FROM runs WHERE id = ANY($1::uuid[])) AS runs,
              (SELECT count(*)::int FROM steps WHERE run_id = ANY($1::uuid[])) AS steps,
              (SELECT count(*)::int FROM candidates WHERE run_id = ANY($1::uuid[])) AS candidates`,
      [ids],
    );

  describe('deleting a run', () => {
    const pipeline = `delete-one-${randomUUID().slice(0, 6)}`;
    let deleted: ReturnType<typeof runEvents>;
    let applied: number[];

    it('removes the run, its steps and candidates, and analytics answers as before the run was stored', async () => {
      await ingest(runEvents(pipeline, 0, ['a', 'b', 'c', 'd']).events);
      const baseline = await analytics(pipeline);
      deleted = runEvents(pipeline, 20 * 60_000, ['a', 'b', 'c', 'd', 'e', 'f']);
      applied = (await ingest(deleted.events)).map((r) => r.status);
      expect(applied.every((s) => s < 300)).toBe(true);
      expect(await analytics(pipeline)).not.toEqual(baseline);

      const res = await request(t.http).delete(`/v1/runs/${deleted.runId}`).set(as(keys.delete)).expect(200);
      expect(res.body).toMatchObject({
        kind: 'run',
        keyId: keys.deleteId,
        status: 'done',
        filter: { runId: deleted.runId },
        counts: { runs: 1, steps: 2, candidates: 6, stepsChanged: 0 },
      });
      expect(await storedOf(deleted.runId)).toEqual([{ runs: 0, steps: 0, candidates: 0 }]);
      expectError(await request(t.http).get(`/v1/runs/${deleted.runId}`).set(as(keys.read)), 404, 'RUN_NOT_FOUND');
      expectError(await request(t.http).get(`/v1/steps/${deleted.filter}`).set(as(keys.read)), 404);
      expect(await analytics(pipeline)).toEqual(baseline);
      await rollupTotals();
    });

    it('answers 404 for another project’s run and for an unknown id, and removes nothing', async () => {
      const other = await t.newProject('lifecycle-other');
      const theirs = runEvents(pipeline, 0, ['x']);
      await ingest(theirs.events, other.key);
      expectError(await request(t.http).delete(`/v1/runs/${theirs.runId}`).set(as(keys.delete)), 404, 'RUN_NOT_FOUND');
      expectError(await request(t.http).delete(`/v1/runs/${randomUUID()}`).set(as(keys.delete)), 404, 'RUN_NOT_FOUND');
      expect(await storedOf(theirs.runId)).toEqual([{ runs: 1, steps: 2, candidates: 1 }]);
      // Their own deletion log holds nothing; ours only what we deleted.
      expect((await request(t.http).get('/v1/deletions').set(as(other.key)).expect(200)).body.items).toEqual([]);
    });

    it('stores nothing again when the original batch is replayed, even after the event ids are forgotten', async () => {
      // Remembered events answer as they did; forgotten ones, about a deleted run, as applied before (200).
      const replay = await ingest(deleted.events);
      expect(replay.map((r) => r.status)).toEqual(applied);
      expect(await storedOf(deleted.runId)).toEqual([{ runs: 0, steps: 0, candidates: 0 }]);

      await t.sql('DELETE FROM ingest_events WHERE project_id = $1', [project.id]);
      const forgotten = await ingest(deleted.events.map((e) => ({ ...e, id: randomUUID() })));
      expect(forgotten.map((r) => r.status)).toEqual(deleted.events.map(() => 200));
      expect(await storedOf(deleted.runId)).toEqual([{ runs: 0, steps: 0, candidates: 0 }]);

      // Through REST the id is refused as gone; its steps find no run.
      expectError(await request(t.http).post('/v1/runs').set(as(keys.ingest)).send({ id: deleted.runId, pipeline }), 410, 'RUN_DELETED');
      expectError(await request(t.http).post(`/v1/runs/${deleted.runId}/steps`).set(as(keys.ingest)).send({ name: 'filter' }), 404, 'RUN_NOT_FOUND');
      expect(await storedOf(deleted.runId)).toEqual([{ runs: 0, steps: 0, candidates: 0 }]);
      await rollupTotals();
    });
  });

  describe('erasing a candidate key', () => {
    const pipeline = `erase-${randomUUID().slice(0, 6)}`;
    const person = `person-${randomUUID().slice(0, 8)}`;

    it('erases every row with the key across steps and runs; stored counts and reason histograms drop, reported counts stay', async () => {
      // The key is rejected for "price" in the first run (index 1), kept in the second (index 0), whose filter reports its own input count.
      const first = runEvents(pipeline, 0, ['k0', person, 'k2', 'k3']);
      const second = runEvents(pipeline, 30 * 60_000, [person, 'k1', 'k2'], { reportedIn: 100 });
      await ingest([...first.events, ...second.events]);
      const step = async (id: string) => (await request(t.http).get(`/v1/steps/${id}`).set(as(keys.read)).expect(200)).body;
      const summary = async (id: string) => (await request(t.http).get(`/v1/steps/${id}/candidates/summary`).set(as(keys.read)).expect(200)).body;
      expect(await step(first.filter)).toMatchObject({ candidatesIn: 4, candidatesOut: 2 });
      expect(await step(second.filter)).toMatchObject({ candidatesIn: 100, candidatesOut: 1 });
      const before = await summary(first.filter);
      const priceBefore = (await analytics(pipeline)).topRejectionReasons;

      const res = await request(t.http).delete('/v1/candidates').query({ key: person }).set(as(keys.delete)).expect(200);
      expect(res.body).toMatchObject({ kind: 'erasure', status: 'done', counts: { runs: 0, steps: 0, candidates: 2, stepsChanged: 2 } });
      expect(res.body.filter).toEqual({ keySha256: createHash('sha256').update(person).digest('hex') });
      expect(JSON.stringify(res.body)).not.toContain(person);

      expect(await t.sql('SELECT 1 FROM candidates WHERE project_id = $1 AND key = $2', [project.id, person])).toEqual([]);
      expect(await step(first.filter)).toMatchObject({ candidatesIn: 3, candidatesOut: 2 });
      // Reported by the client: stays as reported; the stored out count drops by the kept row.
      expect(await step(second.filter)).toMatchObject({ candidatesIn: 100, candidatesOut: 0 });
      const after = await summary(first.filter);
      const count = (s: { reasons: { reason: string; count: number }[] }, reason: string) => s.reasons.find((r) => r.reason === reason)?.count ?? 0;
      expect(count(after, 'price')).toBe(count(before, 'price') - 1);
      const reasonCount = (top: { reasons: { reason: string; count: number }[] }[], reason: string) =>
        top.flatMap((s) => s.reasons).find((r) => r.reason === reason)?.count ?? 0;
      expect(reasonCount((await analytics(pipeline)).topRejectionReasons, 'price')).toBe(reasonCount(priceBefore, 'price') - 1);
      await rollupTotals();
      expect(
        await t.sql('SELECT 1 FROM erased_keys WHERE project_id = $1 AND key_hash = sha256(convert_to($2, $3))', [project.id, person, 'UTF8']),
      ).toHaveLength(1);
    });

    it('does not store the key again: not on a replay, not through REST, not in a new step of the same batch', async () => {
      const again = runEvents(pipeline, 60 * 60_000, [person, 'k1', 'k2', 'k3']);
      expect((await ingest(again.events)).every((r) => r.status < 300)).toBe(true);
      const res = await request(t.http)
        .post(`/v1/steps/${again.rank}/candidates`)
        .set(as(keys.ingest))
        .send({ candidates: [{ key: person, decision: 'selected' }] })
        .expect(201);
      expect(res.body).toEqual({ stored: 0 });
      expect(await t.sql('SELECT 1 FROM candidates WHERE project_id = $1 AND key = $2', [project.id, person])).toEqual([]);
      // The filter step was created with its candidates in one batch: its counts are those stored.
      const [filter] = await t.sql<{ stored_in: number; stored_out: number; rows: number; kept: number }>(
        `SELECT stored_in, stored_out, (SELECT count(*)::int FROM candidates c WHERE c.project_id = s.project_id AND c.step_id = s.id) AS rows,
                (SELECT count(*)::int FROM candidates c WHERE c.project_id = s.project_id AND c.step_id = s.id AND decision <> 'rejected') AS kept
         FROM steps s WHERE id = $1`,
        [again.filter],
      );
      expect(filter).toEqual({ stored_in: 3, stored_out: 1, rows: 3, kept: 1 });
      await rollupTotals();
    });
  });

  describe('deleting runs by filter', () => {
    const pipeline = `bulk-${randomUUID().slice(0, 6)}`;

    it('needs at least one filter', async () => {
      expectError(await request(t.http).post('/v1/deletions').set(as(keys.delete)).send({}), 400, 'FILTER_REQUIRED');
      expectError(await request(t.http).post('/v1/deletions').set(as(keys.delete)).send({ status: 'nope' }), 400, 'VALIDATION_FAILED');
    });

    it('deletes the matching runs in the background and reports its progress; other runs stay', async () => {
      const kept = runEvents(`${pipeline}-kept`, 0, ['a']);
      const runs = Array.from({ length: 7 }, (_, i) => runEvents(pipeline, i * 60_000, ['a', 'b']));
      await ingest([kept, ...runs].flatMap((r) => r.events));
      const started = await request(t.http).post('/v1/deletions').set(as(keys.delete)).send({ pipeline }).expect(202);
      expect(started.body).toMatchObject({ kind: 'runs', keyId: keys.deleteId, filter: { pipeline }, total: 7 });
      let job = started.body;
      for (let i = 0; i < 100 && job.status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        job = (await request(t.http).get(`/v1/deletions/${started.body.id}`).set(as(keys.delete)).expect(200)).body;
      }
      expect(job).toMatchObject({ status: 'done', total: 7, done: 7, counts: { runs: 7, steps: 14, candidates: 14 }, finishedAt: expect.any(String) });
      expect(await storedOf(...runs.map((r) => r.runId))).toEqual([{ runs: 0, steps: 0, candidates: 0 }]);
      expect(await storedOf(kept.runId)).toEqual([{ runs: 1, steps: 2, candidates: 1 }]);
      await rollupTotals();
    });

    it('works in bounded chunks, reporting each (the CLI prints these)', async () => {
      const runs = Array.from({ length: 5 }, (_, i) => runEvents(pipeline, i * 60_000, ['a']));
      await ingest(runs.flatMap((r) => r.events));
      const progress: [number, number | null, string][] = [];
      const done = await t.app
        .get(DeletionService)
        .deleteRuns({ projectId: project.id, keyId: null }, { pipeline, before: at(DAY) }, (d) => progress.push([d.done, d.total, d.status]), {
          chunk: 2,
          pauseMs: 0,
        });
      expect(progress).toEqual([
        [0, 5, 'running'],
        [2, 5, 'running'],
        [4, 5, 'running'],
        [5, 5, 'running'],
      ]);
      expect(done).toMatchObject({ status: 'done', done: 5, keyId: null, counts: { runs: 5, steps: 10, candidates: 5 } });
    });
  });

  describe('retention', () => {
    it('is set by the project’s admin key or the root key, shown with the project, and validated', async () => {
      const set = await request(t.http).patch('/v1/project').set(as(project.key)).send({ retentionDays: 30 }).expect(200);
      expect(set.body).toMatchObject({ id: project.id, retentionDays: 30 });
      expect((await request(t.http).get('/v1/projects').set(as(keys.read)).expect(200)).body.items).toMatchObject([{ id: project.id, retentionDays: 30 }]);
      expectError(await request(t.http).patch('/v1/project').set(as(project.key)).send({ retentionDays: 0 }), 400, 'VALIDATION_FAILED');
      expectError(await request(t.http).patch('/v1/project').set(as(project.key)).send({}), 400, 'VALIDATION_FAILED');
      expectError(await request(t.http).patch('/v1/project').set(as(keys.delete)).send({ retentionDays: 5 }), 403, 'INSUFFICIENT_SCOPE');
      const root = await request(t.http).patch(`/v1/projects/${project.id}`).set(as(t.rootKey)).send({ retentionDays: null }).expect(200);
      expect(root.body.retentionDays).toBeNull();
      expectError(await request(t.http).patch(`/v1/projects/${randomUUID()}`).set(as(t.rootKey)).send({ retentionDays: 3 }), 404, 'PROJECT_NOT_FOUND');
      expectError(await request(t.http).patch(`/v1/projects/${project.id}`).set(as(project.key)).send({ retentionDays: 3 }), 403);
    });

    it('deletes only the runs older than each project’s own retention, and logs it', async () => {
      const kept = await t.newProject('retention-none');
      const keeping = await t.newProject('retention-30');
      await request(t.http).patch('/v1/project').set(as(keeping.key)).send({ retentionDays: 30 }).expect(200);
      const pipeline = `retained-${randomUUID().slice(0, 6)}`;
      const old = runEvents(pipeline, -40 * DAY, ['a', 'b']);
      const recent = runEvents(pipeline, -DAY, ['a']);
      const oldElsewhere = runEvents(pipeline, -40 * DAY, ['a']);
      await ingest([...old.events, ...recent.events], keeping.key);
      await ingest(oldElsewhere.events, kept.key);

      const deleted = await t.app.get(RetentionJob).runOnce({ chunk: 1, pauseMs: 0 });
      expect(deleted).toEqual({ [keeping.id]: 1 });
      expect(await storedOf(old.runId)).toEqual([{ runs: 0, steps: 0, candidates: 0 }]);
      // No tombstone: a late replay of an expired run is deleted again by the next round.
      expect(await t.sql('SELECT 1 FROM deleted_runs WHERE run_id = $1', [old.runId])).toEqual([]);
      expect(await storedOf(recent.runId)).toEqual([{ runs: 1, steps: 2, candidates: 1 }]);
      expect(await storedOf(oldElsewhere.runId)).toEqual([{ runs: 1, steps: 2, candidates: 1 }]);
      const log = (await request(t.http).get('/v1/deletions').set(as(keeping.key)).expect(200)).body.items;
      expect(log).toMatchObject([
        { kind: 'retention', keyId: null, status: 'done', filter: { retentionDays: 30 }, counts: { runs: 1, steps: 2, candidates: 2 } },
      ]);
      expect(await t.app.get(RetentionJob).runOnce({ chunk: 1, pauseMs: 0 })).toEqual({});
    });
  });

  describe('scopes and the deletion log', () => {
    it('lets only delete and admin keys delete, erase and read the log; the delete key cannot manage keys', async () => {
      const run = runEvents('scoped', 0, ['a']);
      await ingest(run.events);
      for (const key of [keys.read, keys.ingest]) {
        expectError(await request(t.http).delete(`/v1/runs/${run.runId}`).set(as(key)), 403, 'INSUFFICIENT_SCOPE');
        expectError(await request(t.http).post('/v1/deletions').set(as(key)).send({ pipeline: 'scoped' }), 403, 'INSUFFICIENT_SCOPE');
        expectError(await request(t.http).delete('/v1/candidates').query({ key: 'a' }).set(as(key)), 403, 'INSUFFICIENT_SCOPE');
        expectError(await request(t.http).get('/v1/deletions').set(as(key)), 403, 'INSUFFICIENT_SCOPE');
      }
      expectError(await request(t.http).delete(`/v1/runs/${run.runId}`).set(as(t.rootKey)), 403);
      expectError(
        await request(t.http)
          .post('/v1/api-keys')
          .set(as(keys.delete))
          .send({ name: 'x', scopes: ['admin'] }),
        403,
        'INSUFFICIENT_SCOPE',
      );
      expect(await storedOf(run.runId)).toEqual([{ runs: 1, steps: 2, candidates: 1 }]);
      await request(t.http).delete(`/v1/runs/${run.runId}`).set(as(project.key)).expect(200);
    });

    it('logs every deletion with its key and counts, never content, in the table and as a log line', async () => {
      const page = (await request(t.http).get('/v1/deletions?limit=2').set(as(keys.delete)).expect(200)).body;
      expect(page.items).toHaveLength(2);
      const rest = (
        await request(t.http)
          .get(`/v1/deletions?cursor=${encodeURIComponent(page.nextCursor)}&limit=200`)
          .set(as(project.key))
          .expect(200)
      ).body;
      const all = [...page.items, ...rest.items];
      expect(all.map((d: { kind: string }) => d.kind)).toEqual(['run', 'runs', 'runs', 'erasure', 'run']);
      expect(all[0].keyId).not.toBe(keys.deleteId); // the admin key deleted the last one
      expect(all.slice(1, 5).map((d: { keyId: string | null }) => d.keyId)).toEqual([null, keys.deleteId, keys.deleteId, keys.deleteId]);
      expectError(await request(t.http).get(`/v1/deletions/${randomUUID()}`).set(as(keys.delete)), 404, 'DELETION_NOT_FOUND');
      const [row] = await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM deletion_log WHERE project_id = $1', [project.id]);
      expect(row.n).toBe(5);
      const lines = logger.lines.filter((l) => l.includes('\\"event\\":\\"deletion\\"'));
      expect(lines.length).toBeGreaterThanOrEqual(5);
      expect(lines.every((l) => !l.includes('laptop stand') && !l.includes('person-') && !l.includes(keys.delete))).toBe(true);
    });
  });
});
