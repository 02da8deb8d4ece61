import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

type Event = { id: string; type: string; timestamp?: string; body: Record<string, unknown> };

describe('POST /v1/ingest', () => {
  let t: TestApp;
  let key: string;
  let otherKey: string;
  const ingest = (events: unknown, k = key) => request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${k}`).send({ events });
  const ev = (type: string, body: Record<string, unknown>, extra: Partial<Event> = {}): Event => ({ id: randomUUID(), type, body, ...extra });
  const candidates = (n: number, prefix = 'k') =>
    Array.from({ length: n }, (_, i) => ({
      key: `${prefix}${i}`,
      decision: i % 4 === 0 ? 'accepted' : 'rejected',
      reason: i % 4 ? 'price above $50' : undefined,
    }));

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('ingest')).key;
    otherKey = (await t.newProject('other')).key;
  });
  afterAll(async () => t?.close());

  /** A whole run as the SDK would send it. */
  function pipelineBatch() {
    const runId = randomUUID();
    const search = randomUUID();
    const filter = randomUUID();
    const rule = randomUUID();
    const events = [
      ev(
        'run-create',
        { id: runId, pipeline: 'competitor-selection', input: { title: 'laptop stand' }, tags: ['batch'] },
        { timestamp: '2026-05-01T10:00:00.000Z' },
      ),
      ev('step-create', { id: search, runId, name: 'search', type: 'retrieval' }, { timestamp: '2026-05-01T10:00:00.100Z' }),
      ev('step-update', { id: search, status: 'success', output: { hits: 40 } }, { timestamp: '2026-05-01T10:00:00.600Z' }),
      ev('step-create', { id: filter, runId, name: 'filter-by-price', type: 'filter' }, { timestamp: '2026-05-01T10:00:00.700Z' }),
      ev('step-create', { id: rule, runId, parentStepId: filter, name: 'price-rule' }, { timestamp: '2026-05-01T10:00:00.710Z' }),
      ev('step-update', { id: rule, status: 'success' }, { timestamp: '2026-05-01T10:00:00.720Z' }),
      ev('candidates-create', { stepId: filter, candidates: candidates(40) }),
      ev('step-update', { id: filter, status: 'success', reasoning: 'kept items under $50' }, { timestamp: '2026-05-01T10:00:01.000Z' }),
      ev('run-update', { id: runId, status: 'success', output: { picked: 'k0' } }, { timestamp: '2026-05-01T10:00:02.000Z' }),
    ];
    return { runId, search, filter, rule, events };
  }

  it('applies a whole run in one batch: 207 with a result per event, in order', async () => {
    const { runId, filter, events } = pipelineBatch();
    const res = await ingest(events);
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: { id: string }) => r.id)).toEqual(events.map((e) => e.id));
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 200, 201, 201, 200, 201, 200, 200]);

    const run = (await request(t.http).get(`/v1/runs/${runId}`).set('Authorization', `Bearer ${key}`)).body;
    expect(run).toMatchObject({
      status: 'success',
      output: { picked: 'k0' },
      startedAt: '2026-05-01T10:00:00.000Z',
      endedAt: '2026-05-01T10:00:02.000Z',
      durationMs: 2000,
      tags: ['batch'],
    });
    expect(run.steps.map((s: { name: string }) => s.name)).toEqual(['search', 'filter-by-price']);
    expect(run.steps[0]).toMatchObject({ status: 'success', durationMs: 500, output: { hits: 40 } });
    expect(run.steps[1]).toMatchObject({
      id: filter,
      status: 'success',
      reasoning: 'kept items under $50',
      candidatesIn: 40,
      candidatesOut: 10,
      eliminationRatio: 0.75,
      children: [expect.objectContaining({ name: 'price-rule', status: 'success' })],
    });
  });

  it('replaying a batch any number of times leaves the data as after the first time', async () => {
    const { runId, filter, events } = pipelineBatch();
    const first = await ingest(events);
    const snapshot = async () => ({
      run: (await request(t.http).get(`/v1/runs/${runId}`).set('Authorization', `Bearer ${key}`)).body,
      candidates: await t.sql('SELECT key, decision, created_at FROM candidates WHERE step_id = $1 ORDER BY key', [filter]),
      steps: await t.sql('SELECT count(*)::int AS n FROM steps WHERE run_id = $1', [runId]),
    });
    const before = await snapshot();
    for (let i = 0; i < 3; i++) {
      const again = await ingest(events);
      expect(again.status).toBe(207);
      expect(again.body.results).toEqual(first.body.results);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('entity ids upsert even under new event ids', async () => {
    const { runId, filter, events } = pipelineBatch();
    await ingest(events);
    const fresh = events.map((e) => ({ ...e, id: randomUUID() }));
    const res = await ingest(fresh);
    expect(res.body.results.every((r: { status: number }) => r.status < 300)).toBe(true);
    expect((await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE id = $1', [runId]))[0].n).toBe(1);
    expect((await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM steps WHERE run_id = $1', [runId]))[0].n).toBe(3);
    const step = (await request(t.http).get(`/v1/steps/${filter}`).set('Authorization', `Bearer ${key}`)).body;
    expect(step).toMatchObject({ candidatesIn: 40, candidatesOut: 10 });
  });

  it('fails bad events alone: invalid, orphan and foreign ids; another project’s run id is a new run here', async () => {
    const foreignRun = (await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${otherKey}`).send({ pipeline: 'theirs' })).body.id;
    const runId = randomUUID();
    const stepId = randomUUID();
    const events = [
      ev('run-create', { id: runId, pipeline: 'mixed' }),
      ev('run-create', { id: randomUUID(), pipeline: 42 }),
      ev('step-create', { id: randomUUID(), runId: randomUUID(), name: 'orphan' }),
      ev('step-create', { id: randomUUID(), runId: foreignRun, name: 'foreign' }),
      ev('run-create', { id: foreignRun, pipeline: 'hijack' }),
      ev('step-create', { id: stepId, runId, name: 'good' }),
      ev('candidates-create', { stepId, candidates: [{ key: 'a', decision: 'maybe' }] }),
      ev('candidates-create', { stepId, candidates: [{ key: 'a', decision: 'accepted' }] }),
      ev('teleport', { id: runId }),
      ev('run-update', { id: runId, status: 'success', projectId: randomUUID() }),
      ev('step-update', { id: stepId, status: 'success' }),
    ];
    const res = await ingest(events);
    expect(res.status).toBe(207);
    const statuses = res.body.results.map((r: { status: number }) => r.status);
    // Ids are per project: the other project's run id names a run of this project, created here.
    expect(statuses).toEqual([201, 400, 404, 404, 201, 201, 400, 201, 400, 400, 200]);
    const errors = res.body.results.map((r: { error?: { error: string } }) => r.error?.error);
    expect(errors).toEqual([
      undefined,
      'VALIDATION_FAILED',
      'RUN_NOT_FOUND',
      'RUN_NOT_FOUND',
      undefined,
      undefined,
      'VALIDATION_FAILED',
      undefined,
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      undefined,
    ]);
    expect(res.body.results[6].error.details).toEqual([expect.objectContaining({ field: 'body.candidates.0.decision' })]);
    // The other project's run is untouched and nothing was created under it.
    const theirs = (await request(t.http).get(`/v1/runs/${foreignRun}`).set('Authorization', `Bearer ${otherKey}`)).body;
    expect(theirs).toMatchObject({ pipeline: 'theirs', steps: [] });
    const same = (await request(t.http).get(`/v1/runs/${foreignRun}`).set('Authorization', `Bearer ${key}`)).body;
    expect(same).toMatchObject({ id: foreignRun, pipeline: 'hijack', steps: [] });
    const mine = (await request(t.http).get(`/v1/runs/${runId}`).set('Authorization', `Bearer ${key}`)).body;
    expect(mine).toMatchObject({ status: 'running', steps: [expect.objectContaining({ id: stepId, status: 'success', candidatesIn: 1 })] });
  });

  it('a value only the database refuses fails its own event; the rest of the group lands', async () => {
    const runId = randomUUID();
    const a = randomUUID();
    const b = randomUUID();
    const res = await ingest([
      ev('run-create', { id: runId, pipeline: 'poison' }),
      ev('step-create', { id: a, runId, name: 'a' }),
      ev('step-create', { id: b, runId, name: 'b' }),
      ev('candidates-create', { stepId: a, candidates: [{ key: 'x', decision: 'accepted', data: { t: 'nul \u0000 here' } }] }),
      ev('candidates-create', { stepId: b, candidates: [{ key: 'y', decision: 'accepted', data: { t: 'fine' } }] }),
    ]);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 400, 201]);
    expect(res.body.results[3].error.error).toBe('INVALID_VALUE');
    expect((await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM candidates WHERE step_id = $1', [a]))[0].n).toBe(0);
    expect((await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM candidates WHERE step_id = $1', [b]))[0].n).toBe(1);
  });

  it('applies events in order: a parent created later in the batch is not there yet (404)', async () => {
    const runId = randomUUID();
    const stepId = randomUUID();
    const res = await ingest([ev('step-create', { id: stepId, runId, name: 'early' }), ev('run-create', { id: runId, pipeline: 'order' })]);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([404, 201]);
  });

  it('tolerates arrival out of order: failed events are retried later with the same ids and land', async () => {
    const runId = randomUUID();
    const stepId = randomUUID();
    const late = [
      ev('candidates-create', { stepId, candidates: candidates(8, 'late') }),
      ev('step-update', { id: stepId, status: 'success', candidatesIn: 100, candidatesOut: 8 }),
    ];
    const first = await ingest(late);
    expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([404, 404]);
    expect(first.body.results[0].error).toMatchObject({ statusCode: 404, error: 'STEP_NOT_FOUND' });

    await ingest([ev('run-create', { id: runId, pipeline: 'late' }), ev('step-create', { id: stepId, runId, name: 'filter' })]);
    const retry = await ingest(late);
    expect(retry.body.results.map((r: { status: number }) => r.status)).toEqual([201, 200]);
    const step = (await request(t.http).get(`/v1/steps/${stepId}`).set('Authorization', `Bearer ${key}`)).body;
    expect(step).toMatchObject({ status: 'success', candidatesIn: 100, candidatesOut: 8, candidatesStored: 8 });
  });

  it('answers a repeated event id within one batch like its first occurrence, applying it once', async () => {
    const runId = randomUUID();
    const create = ev('run-create', { id: runId, pipeline: 'dup', metadata: { n: 1 } });
    const res = await ingest([create, create]);
    expect(res.body.results).toEqual([
      { id: create.id, status: 201 },
      { id: create.id, status: 201 },
    ]);
    expect((await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE id = $1', [runId]))[0].n).toBe(1);
  });

  it('never applies another project’s events to this project’s data', async () => {
    const { runId, filter, events } = pipelineBatch();
    await ingest(events);
    const res = await ingest(
      [
        ev('run-update', { id: runId, status: 'error' }),
        ev('step-update', { id: filter, status: 'error' }),
        ev('candidates-create', { stepId: filter, candidates: [{ key: 'evil', decision: 'selected' }] }),
        ev('step-create', { id: randomUUID(), runId, name: 'intruder' }),
      ],
      otherKey,
    );
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([404, 404, 404, 404]);
    const run = (await request(t.http).get(`/v1/runs/${runId}`).set('Authorization', `Bearer ${key}`)).body;
    expect(run.status).toBe('success');
    expect(run.steps).toHaveLength(2);
    expect(run.steps[1]).toMatchObject({ status: 'success', candidatesIn: 40 });
  });

  it('needs an ingest-capable key and rejects a malformed envelope as a whole', async () => {
    expectError(await request(t.http).post('/v1/ingest').send({ events: [] }), 401);
    expectError(await ingest([]), 400, 'VALIDATION_FAILED');
    expectError(await ingest('nope'), 400, 'VALIDATION_FAILED');
    expectError(await ingest([{ type: 'run-create', body: {} }]), 400, 'VALIDATION_FAILED');
    expectError(await request(t.http).post('/v1/ingest').set('Authorization', `Bearer ${key}`).send({ events: [], extra: 1 }), 400);
  });

  it('requires client ids on creates so retries stay idempotent', async () => {
    const res = await ingest([ev('run-create', { pipeline: 'no-id' })]);
    expect(res.body.results[0]).toMatchObject({ status: 400, error: { details: [expect.objectContaining({ field: 'body.id' })] } });
  });

  describe('caps', () => {
    let small: TestApp;
    let smallKey: string;
    beforeAll(async () => {
      small = await createTestApp({ XRAY_MAX_EVENTS_PER_BATCH: '5', XRAY_MAX_BODY: '32kb' });
      smallKey = (await small.newProject()).key;
    });
    afterAll(async () => small?.close());

    it('answers 413 past the events-per-batch cap and past the body limit', async () => {
      const six = Array.from({ length: 6 }, () => ev('run-create', { id: randomUUID(), pipeline: 'p' }));
      const tooMany = await request(small.http).post('/v1/ingest').set('Authorization', `Bearer ${smallKey}`).send({ events: six });
      expect(expectError(tooMany, 413, 'TOO_MANY_EVENTS').message).toContain('XRAY_MAX_EVENTS_PER_BATCH');
      const big = [ev('run-create', { id: randomUUID(), pipeline: 'p', input: 'x'.repeat(40_000) })];
      expectError(await request(small.http).post('/v1/ingest').set('Authorization', `Bearer ${smallKey}`).send({ events: big }), 413, 'PAYLOAD_TOO_LARGE');
      const five = six.slice(0, 5);
      expect((await request(small.http).post('/v1/ingest').set('Authorization', `Bearer ${smallKey}`).send({ events: five })).status).toBe(207);
    });
  });
});
