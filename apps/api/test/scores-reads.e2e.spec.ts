import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

/**
 * Scores where they are read: run details, steps, candidates and lineage; run and step listings
 * filtered by score; summaries, analytics, run comparison and the cross-run rejection question;
 * the feedback scope on every route; CORS for a browser widget.
 */
describe('scores in reads and questions', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  let other: { id: string; key: string };
  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const api = (method: 'get' | 'post' | 'patch' | 'put' | 'delete', path: string, key = project.key) => request(t.http)[method](path).set(as(key));
  const score = async (body: Record<string, unknown>) => (await api('post', '/v1/scores').send(body).expect(201)).body;

  /** A run of `pipeline` with a step `name` (nested under `parent` if given) and candidates. */
  async function runWith(pipeline: string, steps: { name: string; candidates?: { key: string; decision: string }[] }[], key = project.key) {
    const runId = (await api('post', '/v1/runs', key).send({ pipeline }).expect(201)).body.id as string;
    const stepIds: string[] = [];
    for (const s of steps) {
      const id = (await api('post', `/v1/runs/${runId}/steps`, key).send({ name: s.name, type: 'filter' }).expect(201)).body.id as string;
      if (s.candidates) await api('post', `/v1/steps/${id}/candidates`, key).send({ candidates: s.candidates }).expect(201);
      stepIds.push(id);
    }
    return { runId, stepIds };
  }

  beforeAll(async () => {
    t = await createTestApp({ XRAY_CORS_ORIGINS: 'https://shop.example.com' });
    project = await t.newProject('score-reads');
    other = await t.newProject('score-reads-other');
  });
  afterAll(async () => t?.close());

  describe('reading', () => {
    let runId: string;
    let stepIds: string[];
    let nestedId: string;

    beforeAll(async () => {
      ({ runId, stepIds } = await runWith('reading', [
        {
          name: 'retrieve',
          candidates: [
            { key: 'A', decision: 'accepted' },
            { key: 'B', decision: 'accepted' },
          ],
        },
        {
          name: 'filter',
          candidates: [
            { key: 'A', decision: 'rejected' },
            { key: 'B', decision: 'selected' },
          ],
        },
      ]));
      nestedId = (await api('post', `/v1/runs/${runId}/steps`).send({ name: 'inner', type: 'llm', parentStepId: stepIds[1] }).expect(201)).body.id;
      await score({ runId, name: 'correct', value: false, source: 'human', comment: 'wrong pick' });
      await score({ stepId: stepIds[0], name: 'recall', value: 0.5 });
      await score({ stepId: nestedId, name: 'faithfulness', value: 0.9, source: 'evaluator' });
      await score({ stepId: stepIds[1], key: 'A', name: 'relevant', value: true });
      await score({ stepId: stepIds[0], key: 'A', name: 'relevant', value: 'yes' });
    });

    it('shows a run’s own scores on getRun and each step’s own scores on its tree node', async () => {
      const run = (await api('get', `/v1/runs/${runId}`).expect(200)).body;
      expect(run.scores).toHaveLength(1);
      expect(run.scores[0]).toMatchObject({
        runId,
        stepId: null,
        key: null,
        target: 'run',
        name: 'correct',
        value: false,
        dataType: 'boolean',
        comment: 'wrong pick',
      });
      const [retrieve, filter] = run.steps;
      expect(retrieve.scores.map((s: { name: string; value: unknown }) => [s.name, s.value])).toEqual([['recall', 0.5]]);
      expect(filter.scores).toEqual([]);
      expect(filter.children[0].scores.map((s: { name: string }) => s.name)).toEqual(['faithfulness']);
    });

    it('shows a step’s own scores (not its candidates’) on getStep', async () => {
      const step = (await api('get', `/v1/steps/${stepIds[0]}`).expect(200)).body;
      expect(step.scores.map((s: { name: string; target: string }) => [s.name, s.target])).toEqual([['recall', 'step']]);
      expect((await api('get', `/v1/steps/${stepIds[1]}`).expect(200)).body.scores).toEqual([]);
    });

    it('shows each candidate’s scores (that step and key) in lists and on getCandidate', async () => {
      const list = (await api('get', `/v1/steps/${stepIds[1]}/candidates`).expect(200)).body.items;
      const byKey = Object.fromEntries(list.map((c: { key: string; scores: { value: unknown }[] }) => [c.key, c.scores.map((s) => s.value)]));
      expect(byKey).toEqual({ A: [true], B: [] });
      const one = (await api('get', `/v1/steps/${stepIds[0]}/candidates/A`).expect(200)).body;
      expect(one.scores).toHaveLength(1);
      expect(one.scores[0]).toMatchObject({ stepId: stepIds[0], key: 'A', target: 'candidate', value: 'yes' });
    });

    it('shows each evaluation’s scores in the lineage', async () => {
      const items = (await api('get', '/v1/candidates?key=A&pipeline=reading').expect(200)).body.items;
      const byStep = Object.fromEntries(items.map((e: { stepName: string; scores: { value: unknown }[] }) => [e.stepName, e.scores.map((s) => s.value)]));
      expect(byStep).toEqual({ retrieve: ['yes'], filter: [true] });
    });

    it('shows none of another project’s scores, and answers 404 for its ids', async () => {
      expectError(await api('get', `/v1/runs/${runId}`, other.key), 404, 'RUN_NOT_FOUND');
      expectError(await api('get', `/v1/steps/${stepIds[0]}`, other.key), 404, 'STEP_NOT_FOUND');
      expectError(await api('get', `/v1/steps/${stepIds[0]}/candidates`, other.key), 404, 'STEP_NOT_FOUND');
      expectError(await api('get', `/v1/steps/${stepIds[0]}/candidates/A`, other.key), 404, 'STEP_NOT_FOUND');
      expect((await api('get', '/v1/candidates?key=A', other.key).expect(200)).body.items).toEqual([]);
    });
  });

  describe('filters', () => {
    let good: string;
    let bad: string;
    let unscored: string;
    let goodStep: string;
    let badStep: string;

    beforeAll(async () => {
      const a = await runWith('filters', [{ name: 'rank' }]);
      const b = await runWith('filters', [{ name: 'rank' }]);
      const c = await runWith('filters', [{ name: 'rank' }]);
      [good, bad, unscored] = [a.runId, b.runId, c.runId];
      [goodStep, badStep] = [a.stepIds[0], b.stepIds[0]];
      await score({ runId: good, name: 'relevance', value: 0.9 });
      await score({ runId: good, name: 'verdict', value: 'good' });
      await score({ runId: good, name: 'ok', value: true });
      await score({ runId: bad, name: 'relevance', value: 0.3 });
      await score({ runId: bad, name: 'verdict', value: '>weird' });
      await score({ runId: bad, name: 'ok', value: false });
      await score({ stepId: goodStep, name: 'precision', value: 1 });
      await score({ stepId: badStep, name: 'precision', value: 0.2 });
      // A candidate's score is not its step's.
      const d = await runWith('filters', [{ name: 'rank', candidates: [{ key: 'K', decision: 'accepted' }] }]);
      await score({ stepId: d.stepIds[0], key: 'K', name: 'precision', value: 1 });
    });

    const runIds = async (qs: string) => (await api('get', `/v1/runs?pipeline=filters&${qs}`).expect(200)).body.items.map((r: { id: string }) => r.id).sort();
    const stepIds = async (qs: string) => (await api('get', `/v1/steps?pipeline=filters&${qs}`).expect(200)).body.items.map((s: { id: string }) => s.id).sort();

    it('filters runs by their own scores: numeric comparisons, booleans, labels, several at once, both spellings', async () => {
      expect(await runIds('score[relevance]=>=0.8')).toEqual([good]);
      expect(await runIds('score[relevance]=%3E%3D0.8')).toEqual([good]);
      expect(await runIds('score.relevance=<0.5')).toEqual([bad]);
      expect(await runIds('score[relevance]=>0.3')).toEqual([good]);
      expect(await runIds('score[relevance]=<=0.3')).toEqual([bad]);
      expect(await runIds('score[relevance]==0.9')).toEqual([good]);
      expect(await runIds('score[ok]=true')).toEqual([good]);
      expect(await runIds('score[ok]=false')).toEqual([bad]);
      expect(await runIds('score[verdict]=good')).toEqual([good]);
      expect(await runIds(`score[verdict]=${encodeURIComponent('label:>weird')}`)).toEqual([bad]);
      expect(await runIds('score[relevance]=>0&score[ok]=false')).toEqual([bad]);
      expect(await runIds('score[missing]=true')).toEqual([]);
      expect(await runIds('')).toEqual(expect.arrayContaining([good, bad, unscored]));
    });

    it('filters steps by their own scores, not their candidates’', async () => {
      expect(await stepIds('score[precision]=>=1')).toEqual([goodStep]);
      expect(await stepIds('score.precision=<0.5')).toEqual([badStep]);
    });

    it('answers 400 naming the parameter for a bad condition', async () => {
      for (const path of ['/v1/runs', '/v1/steps']) {
        const e = expectError(await api('get', `${path}?score[relevance]=${encodeURIComponent('>=abc')}`), 400);
        expect(JSON.stringify(e)).toContain('score[relevance]');
        const twice = expectError(await api('get', `${path}?score[a]=true&score.a=false`), 400);
        expect(JSON.stringify(twice)).toContain('score[a] is given more than once');
        expectError(await api('get', `${path}?score[relevance]=`), 400);
      }
    });

    it('does not pre-fill the score filter in Swagger with anything the server refuses', async () => {
      const doc = (await request(t.http).get('/docs-json').expect(200)).body;
      for (const path of ['/v1/runs', '/v1/steps']) {
        const param = doc.paths[path].get.parameters.find((p: { name: string }) => p.name === 'score');
        expect(param).toMatchObject({ style: 'deepObject', explode: true, in: 'query' });
        expect(param.schema.example ?? param.example).toEqual({});
        expect(param.description ?? param.schema.description).toContain('score[<name>]');
      }
    });
  });
});
