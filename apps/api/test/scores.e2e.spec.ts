import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

/** Scores and score configurations: targets, validation, idempotent retries, scopes, isolation, deletion with the run. */
describe('scores', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  let other: { id: string; key: string };
  let runId: string;
  let stepId: string;
  const keys: Record<string, string> = {};
  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const api = (method: 'get' | 'post' | 'patch' | 'put' | 'delete', path: string, key = project.key) => request(t.http)[method](path).set(as(key));

  beforeAll(async () => {
    t = await createTestApp();
    project = await t.newProject('scores');
    other = await t.newProject('scores-other');
    runId = (await api('post', '/v1/runs').send({ pipeline: 'competitor-selection' }).expect(201)).body.id;
    stepId = (await api('post', `/v1/runs/${runId}/steps`).send({ name: 'filter-by-category', type: 'filter' }).expect(201)).body.id;
    await api('post', `/v1/steps/${stepId}/candidates`)
      .send({
        candidates: [
          { key: 'B0CASE', decision: 'rejected', reason: 'wrong category' },
          { key: 'B0AAA', decision: 'accepted' },
        ],
      })
      .expect(201);
    for (const scope of ['ingest', 'read', 'delete', 'feedback']) {
      keys[scope] = (
        await api('post', '/v1/api-keys')
          .send({ name: scope, scopes: [scope] })
          .expect(201)
      ).body.key;
    }
  });
  afterAll(async () => t?.close());

  it('scores a run, a step and a candidate, storing the run and its start on each', async () => {
    const run = await api('post', '/v1/scores')
      .send({ runId, name: 'correct', value: false, comment: 'wrong pick', source: 'human', author: 'ana' })
      .expect(201);
    expect(run.body).toMatchObject({
      runId,
      stepId: null,
      key: null,
      target: 'run',
      name: 'correct',
      dataType: 'boolean',
      value: false,
      source: 'human',
      author: 'ana',
    });
    const step = await api('post', '/v1/scores').send({ stepId, name: 'faithfulness', value: 0.75, source: 'evaluator' }).expect(201);
    expect(step.body).toMatchObject({ runId, stepId, key: null, target: 'step', dataType: 'numeric', value: 0.75 });
    const candidate = await api('post', '/v1/scores')
      .send({ stepId, key: 'B0CASE', name: 'verdict-free', value: 'good', metadata: { widget: 'thumbs' } })
      .expect(201);
    expect(candidate.body).toMatchObject({
      runId,
      stepId,
      key: 'B0CASE',
      target: 'candidate',
      dataType: 'categorical',
      value: 'good',
      source: 'api',
      metadata: { widget: 'thumbs' },
    });
    const [stored] = await t.sql<{ same: boolean }>(
      'SELECT s.run_started_at = r.started_at AS same FROM scores s JOIN runs r ON r.project_id = s.project_id AND r.id = s.run_id WHERE s.id = $1',
      [candidate.body.id],
    );
    expect(stored.same).toBe(true);
  });

  it('answers 400 for a score without a target, a key without a step, a bad value; 404 for unknown targets', async () => {
    expectError(await api('post', '/v1/scores').send({ name: 'x', value: 1 }), 400, 'INVALID_SCORE');
    expectError(await api('post', '/v1/scores').send({ runId, key: 'B0CASE', name: 'x', value: 1 }), 400, 'INVALID_SCORE');
    for (const value of [null, {}, [1], '', 'x'.repeat(201)]) expectError(await api('post', '/v1/scores').send({ runId, name: 'x', value }), 400);
    expectError(await api('post', '/v1/scores').send({ runId: randomUUID(), name: 'x', value: 1 }), 404, 'RUN_NOT_FOUND');
    expectError(await api('post', '/v1/scores').send({ stepId: randomUUID(), name: 'x', value: 1 }), 404, 'STEP_NOT_FOUND');
    expectError(await api('post', '/v1/scores').send({ stepId, key: 'B0NOPE', name: 'x', value: 1 }), 404, 'CANDIDATE_NOT_FOUND');
    expectError(await api('post', '/v1/scores').send({ runId: randomUUID(), stepId, name: 'x', value: 1 }), 400, 'INVALID_SCORE');
  });

  it('validates against a configuration: type, range, labels, with a clear message; free names stay free', async () => {
    await api('post', '/v1/score-configs')
      .send({ name: 'verdict', dataType: 'categorical', labels: ['good', 'bad'] })
      .expect(201);
    await api('post', '/v1/score-configs').send({ name: 'quality', dataType: 'numeric', min: 0, max: 1 }).expect(201);
    expectError(await api('post', '/v1/score-configs').send({ name: 'verdict', dataType: 'boolean' }), 409, 'SCORE_CONFIG_EXISTS');
    expectError(await api('post', '/v1/score-configs').send({ name: 'c', dataType: 'categorical' }), 400, 'INVALID_SCORE_CONFIG');
    expectError(await api('post', '/v1/score-configs').send({ name: 'n', dataType: 'numeric', min: 2, max: 1 }), 400, 'INVALID_SCORE_CONFIG');

    const label = expectError(await api('post', '/v1/scores').send({ runId, name: 'verdict', value: 'meh' }), 400, 'INVALID_SCORE');
    expect(label.message).toBe('Score "verdict" must be one of "good", "bad"; got "meh"');
    const type = expectError(await api('post', '/v1/scores').send({ runId, name: 'verdict', value: 1 }), 400, 'INVALID_SCORE');
    expect(type.message).toContain('configured as categorical');
    const range = expectError(await api('post', '/v1/scores').send({ runId, name: 'quality', value: 1.5 }), 400, 'INVALID_SCORE');
    expect(range.message).toBe('Score "quality" must be between 0 and 1; got 1.5');
    await api('post', '/v1/scores').send({ stepId, key: 'B0AAA', name: 'verdict', value: 'bad' }).expect(201);

    const replaced = await api('put', '/v1/score-configs/verdict')
      .send({ dataType: 'categorical', labels: ['good', 'bad', 'meh'] })
      .expect(200);
    expect(replaced.body).toMatchObject({ name: 'verdict', dataType: 'categorical', labels: ['good', 'bad', 'meh'], min: null, max: null });
    await api('post', '/v1/scores').send({ runId, name: 'verdict', value: 'meh' }).expect(201);
    const list = await api('get', '/v1/score-configs').expect(200);
    expect(list.body.items.map((c: { name: string }) => c.name)).toEqual(['quality', 'verdict']);
    await api('delete', '/v1/score-configs/quality').expect(204);
    expectError(await api('delete', '/v1/score-configs/quality'), 404, 'SCORE_CONFIG_NOT_FOUND');
    expectError(await api('put', '/v1/score-configs/quality').send({ dataType: 'boolean' }), 404, 'SCORE_CONFIG_NOT_FOUND');
    await api('post', '/v1/scores').send({ runId, name: 'quality', value: 7 }).expect(201);
  });

  it('answers a retry with the same id with the score already made, in single and batch creates', async () => {
    const id = randomUUID();
    const first = await api('post', '/v1/scores').send({ id, runId, name: 'retry', value: 1 }).expect(201);
    const again = await api('post', '/v1/scores').send({ id, runId, name: 'retry', value: 1 }).expect(201);
    expect(again.body).toEqual(first.body);
    const batch = await api('post', '/v1/scores/batch')
      .send({
        scores: [
          { id, runId, name: 'retry', value: 1 },
          { stepId, name: 'retry', value: 2 },
        ],
      })
      .expect(201);
    expect(batch.body.items[0]).toEqual(first.body);
    const [{ n }] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM scores WHERE project_id = $1 AND name = 'retry'`, [project.id]);
    expect(n).toBe(2);
  });

  it('rolls a batch back whole when one score fails, naming it', async () => {
    const id = randomUUID();
    const res = expectError(
      await api('post', '/v1/scores/batch').send({
        scores: [
          { id, runId, name: 'batch', value: 1 },
          { runId, name: 'verdict', value: 'nope' },
        ],
      }),
      400,
      'INVALID_SCORE',
    );
    expect(res.details).toEqual([expect.objectContaining({ field: 'scores[1].value' })]);
    const [{ n }] = await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM scores WHERE project_id = $1 AND id = $2', [project.id, id]);
    expect(n).toBe(0);
    expectError(await api('post', '/v1/scores/batch').send({ scores: [] }), 400);
  });

  it('lists by run, step, key, name and source, newest first, in pages', async () => {
    const all = await api('get', `/v1/scores?runId=${runId}&limit=500`).expect(200);
    expect(all.body.items.length).toBeGreaterThan(5);
    const byKey = await api('get', `/v1/scores?stepId=${stepId}&key=B0CASE`).expect(200);
    expect(byKey.body.items.map((s: { name: string }) => s.name)).toEqual(['verdict-free']);
    const bySource = await api('get', '/v1/scores?source=evaluator&name=faithfulness').expect(200);
    expect(bySource.body.items).toHaveLength(1);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await api('get', `/v1/scores?runId=${runId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
      seen.push(...page.body.items.map((s: { id: string }) => s.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((s: { id: string }) => s.id));
    expectError(await api('get', '/v1/scores?cursor=nope'), 400, 'INVALID_CURSOR');
  });

  it('updates a score (validated against its configuration) and deletes it', async () => {
    const made = await api('post', '/v1/scores').send({ runId, name: 'verdict', value: 'good' }).expect(201);
    const path = `/v1/scores/${made.body.id}`;
    expectError(await api('patch', path).send({ value: 'nope' }), 400, 'INVALID_SCORE');
    const changed = await api('patch', path).send({ value: 'bad', comment: 'on second look' }).expect(200);
    expect(changed.body).toMatchObject({ value: 'bad', comment: 'on second look', name: 'verdict' });
    expect(Date.parse(changed.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(made.body.updatedAt));
    await api('delete', path).expect(204);
    expectError(await api('delete', path), 404, 'SCORE_NOT_FOUND');
    expectError(await api('patch', path).send({ comment: 'x' }), 404, 'SCORE_NOT_FOUND');
  });

  it('answers 404 for another project’s runs, steps and scores', async () => {
    const mine = await api('post', '/v1/scores').send({ runId, name: 'private', value: true }).expect(201);
    expectError(await api('post', '/v1/scores', other.key).send({ runId, name: 'x', value: 1 }), 404, 'RUN_NOT_FOUND');
    expectError(await api('post', '/v1/scores', other.key).send({ stepId, key: 'B0CASE', name: 'x', value: 1 }), 404, 'STEP_NOT_FOUND');
    expectError(await api('patch', `/v1/scores/${mine.body.id}`, other.key).send({ comment: 'x' }), 404, 'SCORE_NOT_FOUND');
    expectError(await api('delete', `/v1/scores/${mine.body.id}`, other.key), 404, 'SCORE_NOT_FOUND');
    expect((await api('get', `/v1/scores?runId=${runId}`, other.key).expect(200)).body.items).toEqual([]);
    // The same client id in another project is another score.
    await api('post', '/v1/runs', other.key).send({ pipeline: 'p' }).expect(201);
    const otherRun = (await api('post', '/v1/runs', other.key).send({ pipeline: 'p' }).expect(201)).body.id;
    const copy = await api('post', '/v1/scores', other.key).send({ id: mine.body.id, runId: otherRun, name: 'theirs', value: 1 }).expect(201);
    expect(copy.body).toMatchObject({ id: mine.body.id, runId: otherRun, name: 'theirs' });
  });

  it('lets a feedback key create scores and nothing else; ingest keys create scores too', async () => {
    const made = await api('post', '/v1/scores', keys.feedback).send({ stepId, key: 'B0CASE', name: 'thumbs', value: true, source: 'human' }).expect(201);
    await api('post', '/v1/scores/batch', keys.feedback)
      .send({ scores: [{ runId, name: 'thumbs', value: false }] })
      .expect(201);
    await api('post', '/v1/scores', keys.ingest).send({ runId, name: 'thumbs', value: true }).expect(201);
    for (const [method, path] of [
      ['get', '/v1/scores'],
      ['patch', `/v1/scores/${made.body.id}`],
      ['delete', `/v1/scores/${made.body.id}`],
      ['get', '/v1/score-configs'],
      ['post', '/v1/score-configs'],
      ['get', '/v1/runs'],
      ['get', `/v1/runs/${runId}`],
      ['post', '/v1/runs'],
      ['post', '/v1/ingest'],
      ['get', '/v1/api-keys'],
    ] as const) {
      const res = await api(method, path, keys.feedback).send(method === 'get' || method === 'delete' ? undefined : {});
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    expectError(await api('post', '/v1/scores', keys.read).send({ runId, name: 'x', value: 1 }), 403, 'INSUFFICIENT_SCOPE');
    expectError(await api('post', '/v1/score-configs', keys.ingest).send({ name: 'y', dataType: 'boolean' }), 403, 'INSUFFICIENT_SCOPE');
  });

  it('takes score-create events in /v1/ingest, in order with the batch’s runs, steps and candidates', async () => {
    const [run, step, score] = [randomUUID(), randomUUID(), randomUUID()];
    const res = await api('post', '/v1/ingest')
      .send({
        events: [
          { id: randomUUID(), type: 'score-create', body: { id: randomUUID(), stepId: step, name: 'early', value: 1 } },
          { id: randomUUID(), type: 'run-create', body: { id: run, pipeline: 'competitor-selection' } },
          { id: randomUUID(), type: 'step-create', body: { id: step, runId: run, name: 'filter-by-category' } },
          { id: randomUUID(), type: 'candidates-create', body: { stepId: step, candidates: [{ key: 'B0NEW', decision: 'rejected' }] } },
          { id: randomUUID(), type: 'score-create', body: { id: score, stepId: step, key: 'B0NEW', name: 'verdict', value: 'bad', source: 'human' } },
          { id: randomUUID(), type: 'score-create', body: { id: randomUUID(), runId: run, name: 'verdict', value: 'nope' } },
          { id: randomUUID(), type: 'score-create', body: { runId: run, name: 'free', value: 1 } },
          { id: randomUUID(), type: 'score-create', body: { id: randomUUID(), runId: randomUUID(), name: 'free', value: 1 } },
        ],
      })
      .expect(207);
    // Events apply in order: a score before the step it names finds no step.
    expect(res.body.results.map((r: { status: number; error?: { error: string } }) => [r.status, r.error?.error])).toEqual([
      [404, 'STEP_NOT_FOUND'],
      [201, undefined],
      [201, undefined],
      [201, undefined],
      [201, undefined],
      [400, 'INVALID_SCORE'],
      [400, 'VALIDATION_FAILED'],
      [404, 'RUN_NOT_FOUND'],
    ]);
    const stored = await api('get', `/v1/scores?runId=${run}`).expect(200);
    expect(stored.body.items).toEqual([expect.objectContaining({ id: score, runId: run, stepId: step, key: 'B0NEW', value: 'bad', target: 'candidate' })]);
    // A later batch scores what an earlier one stored: a candidate, a step and a run.
    const later = await api('post', '/v1/ingest')
      .send({
        events: [
          { id: randomUUID(), type: 'score-create', body: { id: randomUUID(), stepId: step, key: 'B0NEW', name: 'later', value: 1 } },
          { id: randomUUID(), type: 'score-create', body: { id: randomUUID(), stepId: step, name: 'later', value: 2 } },
          { id: randomUUID(), type: 'score-create', body: { id: randomUUID(), runId: run, name: 'later', value: 3 } },
        ],
      })
      .expect(207);
    expect(later.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201]);
  });

  it('erases the scores of an erased candidate key', async () => {
    await api('post', '/v1/scores').send({ stepId, key: 'B0AAA', name: 'erase-me', value: 1 }).expect(201);
    await api('delete', '/v1/candidates?key=B0AAA', keys.delete).expect(200);
    const [{ n }] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM scores WHERE project_id = $1 AND candidate_key = 'B0AAA'`, [project.id]);
    expect(n).toBe(0);
    expectError(await api('post', '/v1/scores').send({ stepId, key: 'B0AAA', name: 'erase-me', value: 1 }), 404, 'CANDIDATE_NOT_FOUND');
  });

  it('deletes a run’s scores with the run', async () => {
    const gone = (await api('post', '/v1/runs').send({ pipeline: 'competitor-selection' }).expect(201)).body.id;
    await api('post', '/v1/scores').send({ runId: gone, name: 'correct', value: true }).expect(201);
    await api('delete', `/v1/runs/${gone}`, keys.delete).expect(200);
    const [{ n }] = await t.sql<{ n: number }>('SELECT count(*)::int AS n FROM scores WHERE project_id = $1 AND run_id = $2', [project.id, gone]);
    expect(n).toBe(0);
  });
});
