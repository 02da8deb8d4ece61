import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { QueryRunner } from 'typeorm';
import { AddScoreRollups1795600700000 } from '../src/database/migrations/1795600700000-AddScoreRollups.js';
import { AddScoreRejections1795600600000 } from '../src/database/migrations/1795600600000-AddScoreRejections.js';
import { sql } from '../src/database/sql.js';
import { ScoreAnalyticsRepository } from '../src/scores/score-analytics.repository.js';
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
  describe('summary and analytics', () => {
    beforeAll(async () => {
      const { runId, stepIds } = await runWith('summary', [{ name: 'rank', candidates: [{ key: 'K', decision: 'selected' }] }]);
      const [stepId] = stepIds;
      await score({ runId, name: 'relevance', value: 0.2 });
      await score({ stepId, name: 'relevance', value: 0.4 });
      await score({ stepId, key: 'K', name: 'relevance', value: 1 });
      await score({ runId, name: 'ok', value: true });
      await score({ stepId, name: 'ok', value: true });
      await score({ stepId, key: 'K', name: 'ok', value: false });
      await score({ runId, name: 'verdict', value: 'good' });
      await score({ stepId, name: 'verdict', value: 'good' });
      await score({ stepId, key: 'K', name: 'verdict', value: 'bad' });
      // Another pipeline's scores stay out.
      const elsewhere = await runWith('not-summary', []);
      await score({ runId: elsewhere.runId, name: 'relevance', value: 0 });
    });

    it('summarizes each name: count, mean, min/max, label counts or a histogram, by day', async () => {
      const body = (await api('get', '/v1/scores/summary?pipeline=summary').expect(200)).body;
      const byName = Object.fromEntries(body.items.map((i: { name: string }) => [i.name, i]));
      const today = `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`;
      expect(byName.relevance).toMatchObject({ dataType: 'numeric', count: 3, min: 0.2, max: 1, labels: [] });
      expect(byName.relevance.mean).toBeCloseTo(1.6 / 3, 10);
      expect(byName.relevance.histogram).toHaveLength(10);
      expect(byName.relevance.histogram.map((b: { count: number }) => b.count)).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
      expect(byName.relevance.histogram[0].from).toBeCloseTo(0.2, 10);
      expect(byName.relevance.histogram[9].to).toBe(1);
      expect(byName.relevance.byDay).toEqual([{ start: today, count: 3, mean: expect.closeTo(1.6 / 3, 10), labels: [] }]);
      expect(byName.ok).toMatchObject({ dataType: 'boolean', count: 3, min: null, max: null, histogram: [] });
      expect(byName.ok.mean).toBeCloseTo(2 / 3, 10);
      expect(byName.ok.labels).toEqual([
        { label: 'true', count: 2 },
        { label: 'false', count: 1 },
      ]);
      expect(byName.verdict).toMatchObject({ dataType: 'categorical', count: 3, mean: null });
      expect(byName.verdict.labels).toEqual([
        { label: 'good', count: 2 },
        { label: 'bad', count: 1 },
      ]);
      expect(byName.verdict.byDay).toEqual([{ start: today, count: 3, mean: null, labels: byName.verdict.labels }]);
    });

    it('narrows the summary by name, target and range', async () => {
      const runOnly = (await api('get', '/v1/scores/summary?pipeline=summary&name=relevance&target=run').expect(200)).body.items;
      expect(runOnly).toEqual([expect.objectContaining({ name: 'relevance', count: 1, mean: 0.2, min: 0.2, max: 0.2 })]);
      expect(runOnly[0].histogram).toEqual([{ from: 0.2, to: 0.2, count: 1 }]);
      const candidates = (await api('get', '/v1/scores/summary?pipeline=summary&target=candidate').expect(200)).body.items;
      expect(candidates.map((i: { name: string; count: number }) => [i.name, i.count]).sort()).toEqual([
        ['ok', 1],
        ['relevance', 1],
        ['verdict', 1],
      ]);
      const future = new Date(Date.now() + 86_400_000).toISOString();
      expect(
        (await api('get', `/v1/scores/summary?pipeline=summary&from=${future}&to=${new Date(Date.now() + 2 * 86_400_000).toISOString()}`).expect(200)).body
          .items,
      ).toEqual([]);
      expectError(await api('get', '/v1/scores/summary?target=everything'), 400);
      expectError(await api('get', `/v1/scores/summary?from=${future}&to=2020-01-01T00:00:00Z`), 400, 'INVALID_RANGE');
      expect((await api('get', '/v1/scores/summary?pipeline=summary', other.key).expect(200)).body.items).toEqual([]);
    });

    it('charts each score name over time in pipeline analytics, beside runs and errors', async () => {
      const body = (await api('get', '/v1/analytics/pipelines/summary').expect(200)).body;
      expect(body.timeSeries.points.length).toBeGreaterThan(1);
      const byName = Object.fromEntries(body.scores.map((s: { name: string }) => [s.name, s]));
      expect(Object.keys(byName).sort()).toEqual(['ok', 'relevance', 'verdict']);
      for (const series of body.scores) {
        expect(series.points.map((p: { start: string }) => p.start)).toEqual(body.timeSeries.points.map((p: { start: string }) => p.start));
      }
      const filled = (name: string) => byName[name].points.filter((p: { count: number }) => p.count > 0);
      expect(filled('relevance')).toEqual([expect.objectContaining({ count: 3, mean: expect.closeTo(1.6 / 3, 10), labels: [] })]);
      expect(filled('verdict')).toEqual([
        expect.objectContaining({
          count: 3,
          mean: null,
          labels: [
            { label: 'good', count: 2 },
            { label: 'bad', count: 1 },
          ],
        }),
      ]);
      expect(byName.ok.points.find((p: { count: number }) => p.count === 0)).toEqual(expect.objectContaining({ mean: null, labels: [] }));
    });
  });

  describe('which step rejects what users scored good', () => {
    /**
     * The competitor-selection shape: items are retrieved, then filtered by category and by
     * price, then ranked. Reviewers score items `wanted` where they saw them.
     *   run 1: category rejects A, B; price rejects C; rank selects D. Wanted: A yes, B no, C yes, D yes.
     *   run 2: category rejects A; price rejects B; rank selects C. Wanted: A yes then (later) no, B yes, C no.
     * So: category rejected 3 scored items, 1 wanted (A in run 1); price rejected 2, both wanted.
     */
    const shape = (rejectedByCategory: string[], rejectedByPrice: string[], selected: string[]) => {
      const all = [...rejectedByCategory, ...rejectedByPrice, ...selected];
      const afterCategory = [...rejectedByPrice, ...selected];
      return [
        { name: 'retrieve', candidates: all.map((key) => ({ key, decision: 'accepted' })) },
        {
          name: 'filter-by-category',
          candidates: [...rejectedByCategory.map((key) => ({ key, decision: 'rejected' })), ...afterCategory.map((key) => ({ key, decision: 'accepted' }))],
        },
        {
          name: 'filter-by-price',
          candidates: [...rejectedByPrice.map((key) => ({ key, decision: 'rejected' })), ...selected.map((key) => ({ key, decision: 'accepted' }))],
        },
        { name: 'rank', candidates: selected.map((key) => ({ key, decision: 'selected' })) },
      ];
    };
    let run1: { runId: string; stepIds: string[] };

    beforeAll(async () => {
      run1 = await runWith('rejections', shape(['A', 'B'], ['C'], ['D']));
      const [retrieve1, , , rank1] = run1.stepIds;
      await score({ stepId: retrieve1, key: 'A', name: 'wanted', value: true });
      await score({ stepId: retrieve1, key: 'B', name: 'wanted', value: false });
      await score({ stepId: retrieve1, key: 'C', name: 'wanted', value: true });
      await score({ stepId: rank1, key: 'D', name: 'wanted', value: true });
      await score({ stepId: retrieve1, key: 'A', name: 'relevance', value: 0.9 });
      await score({ stepId: retrieve1, key: 'B', name: 'relevance', value: 0.2 });
      await score({ stepId: retrieve1, key: 'A', name: 'verdict', value: 'competitor' });
      await score({ stepId: retrieve1, key: 'B', name: 'verdict', value: 'accessory' });
      const run2 = await runWith('rejections', shape(['A'], ['B'], ['C']));
      const [retrieve2, category2, , rank2] = run2.stepIds;
      await score({ stepId: category2, key: 'A', name: 'wanted', value: true });
      await score({ stepId: retrieve2, key: 'B', name: 'wanted', value: true });
      await score({ stepId: rank2, key: 'C', name: 'wanted', value: false });
      await new Promise((r) => setTimeout(r, 5));
      await score({ stepId: retrieve2, key: 'A', name: 'wanted', value: false });
      // Another pipeline's wanted items stay out.
      const elsewhere = await runWith('elsewhere', shape(['A'], [], ['B']));
      await score({ stepId: elsewhere.stepIds[0], key: 'A', name: 'wanted', value: true });
    });

    it('counts per step name the scored items it rejected and how many were good (boolean)', async () => {
      const body = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted&good=true').expect(200)).body;
      expect(body).toMatchObject({ pipeline: 'rejections', name: 'wanted', good: 'true', min: null, scoredItems: 7, goodItems: 4 });
      expect(body.steps.map((s: Record<string, unknown>) => ({ ...s, examples: undefined }))).toEqual([
        { stepName: 'filter-by-price', rejected: 2, rejectedGood: 2, share: 1, exampleKeys: ['B', 'C'], examples: undefined },
        { stepName: 'filter-by-category', rejected: 3, rejectedGood: 1, share: 1 / 3, exampleKeys: ['A'], examples: undefined },
      ]);
      expect(body.steps[1].examples).toEqual([{ runId: run1.runId, stepId: run1.stepIds[1], key: 'A' }]);
    });

    it('follows rejections that arrive after the score, decisions a replay changes, and writers running at once', async () => {
      const ask = async () =>
        (await api('get', '/v1/analytics/score-rejections?pipeline=late-rejections&name=wanted&good=true').expect(200)).body.steps.map(
          (s: { stepName: string; rejected: number; rejectedGood: number }) => [s.stepName, s.rejected, s.rejectedGood],
        );
      const { runId, stepIds } = await runWith('late-rejections', [{ name: 'retrieve', candidates: ['A', 'B'].map((key) => ({ key, decision: 'accepted' })) }]);
      await score({ stepId: stepIds[0], key: 'A', name: 'wanted', value: true });
      await score({ stepId: stepIds[0], key: 'B', name: 'wanted', value: false });
      expect(await ask()).toEqual([]);

      // The filter step comes after the scores: its rejections count (the first batch is COPY's).
      const filter = (await api('post', `/v1/runs/${runId}/steps`).send({ name: 'filter', type: 'filter' }).expect(201)).body.id as string;
      await api('post', `/v1/steps/${filter}/candidates`)
        .send({ candidates: ['A', 'B'].map((key) => ({ key, decision: 'rejected' })) })
        .expect(201);
      expect(await ask()).toEqual([['filter', 2, 1]]);

      // A replay that accepts A takes it back out (the statement path).
      await api('post', `/v1/steps/${filter}/candidates`)
        .send({ candidates: [{ key: 'A', decision: 'accepted' }] })
        .expect(201);
      expect(await ask()).toEqual([['filter', 1, 0]]);

      // Through /v1/ingest, in the batch's transaction.
      const rerank = randomUUID();
      await api('post', '/v1/ingest')
        .send({
          events: [
            { id: randomUUID(), type: 'step-create', body: { id: rerank, runId, name: 'rerank', type: 'rank' } },
            { id: randomUUID(), type: 'candidates-create', body: { stepId: rerank, candidates: [{ key: 'A', decision: 'rejected' }] } },
          ],
        })
        .expect((res) => expect(res.status).toBeLessThan(300));
      expect(await ask()).toEqual([
        ['rerank', 1, 1],
        ['filter', 1, 0],
      ]);

      // Many scores and many rejecting batches at once, in another run: every rejection counted once.
      const keys = Array.from({ length: 12 }, (_, i) => `K${i}`);
      const race = await runWith('late-rejections', [{ name: 'retrieve', candidates: keys.map((key) => ({ key, decision: 'accepted' })) }]);
      const filters: string[] = [];
      for (let i = 0; i < 4; i++)
        filters.push(
          (
            await api('post', `/v1/runs/${race.runId}/steps`)
              .send({ name: `race-${i}`, type: 'filter' })
              .expect(201)
          ).body.id,
        );
      await Promise.all([
        ...keys.map((key) => score({ stepId: race.stepIds[0], key, name: 'wanted', value: true })),
        ...filters.map((id) =>
          api('post', `/v1/steps/${id}/candidates`)
            .send({ candidates: keys.map((key) => ({ key, decision: 'rejected' })) })
            .expect(201),
        ),
      ]);
      const after = Object.fromEntries((await ask()).map(([name, rejected, good]: [string, number, number]) => [name, [rejected, good]]));
      for (let i = 0; i < 4; i++) expect(after[`race-${i}`]).toEqual([12, 12]);
    });

    it('fills the rejections of scores stored before they were recorded (the migration)', async () => {
      const ask = async () => ({
        ...(await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted&good=true').expect(200)).body,
        from: null,
        to: null,
      });
      const answer = await ask();
      expect(answer.steps.length).toBeGreaterThan(0);
      const migration = new AddScoreRejections1795600600000();
      const runner = { query: (text: string, params?: unknown[]) => t.sql(text, params) } as unknown as QueryRunner;
      await migration.down(runner);
      await migration.up(runner);
      expect(await ask()).toEqual(answer);
    });

    it('takes a numeric threshold or a label as what is good', async () => {
      const min = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=relevance&min=0.5').expect(200)).body;
      expect(min).toMatchObject({ scoredItems: 2, goodItems: 1, min: 0.5, good: null });
      expect(min.steps).toEqual([expect.objectContaining({ stepName: 'filter-by-category', rejected: 2, rejectedGood: 1, share: 0.5, exampleKeys: ['A'] })]);
      const label = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=verdict&good=accessory').expect(200)).body;
      expect(label.steps).toEqual([expect.objectContaining({ stepName: 'filter-by-category', rejected: 2, rejectedGood: 1, exampleKeys: ['B'] })]);
      const none = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=nothing&good=true').expect(200)).body;
      expect(none).toMatchObject({ scoredItems: 0, goodItems: 0, steps: [] });
    });

    it('takes good=true when neither good nor min is given, answers 400 for both, and sees nothing of another project', async () => {
      const implicit = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted').expect(200)).body;
      const explicit = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted&good=true').expect(200)).body;
      expect({ ...implicit, from: null, to: null }).toEqual({ ...explicit, from: null, to: null });
      expect(implicit.steps.length).toBeGreaterThan(0);
      expect(implicit.good).toBe('true');
      expectError(await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted&good=true&min=1'), 400, 'VALIDATION_FAILED');
      expectError(await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted&min=high'), 400);
      expectError(await api('get', '/v1/analytics/score-rejections?name=wanted&good=true'), 400);
      const theirs = (await api('get', '/v1/analytics/score-rejections?pipeline=rejections&name=wanted&good=true', other.key).expect(200)).body;
      expect(theirs).toMatchObject({ scoredItems: 0, steps: [] });
    });
  });
  describe('the rejection question’s rollup, against the scores themselves', () => {
    /**
     * Runs started hours ago, inside whole hours of the default range: their items are counted
     * from the rollup (database/score-rejections.ts). After every kind of write that can change
     * an item's latest score or its rejections, the answer must equal the question asked of the
     * scores table itself (the query the edges of a range still use).
     */
    const HOUR = 3_600_000;
    const hoursAgo = (h: number) => new Date(Math.floor(Date.now() / HOUR) * HOUR - h * HOUR + 17 * 60_000).toISOString();
    const keys = Array.from({ length: 10 }, (_, i) => `R${i}`);

    async function pastRun(pipeline: string, h: number) {
      const runId = (
        await api('post', '/v1/runs')
          .send({ pipeline, startedAt: hoursAgo(h) })
          .expect(201)
      ).body.id as string;
      const step = async (name: string, type: string, candidates: { key: string; decision: string }[]) => {
        const id = (await api('post', `/v1/runs/${runId}/steps`).send({ name, type }).expect(201)).body.id as string;
        await api('post', `/v1/steps/${id}/candidates`).send({ candidates }).expect(201);
        return id;
      };
      const retrieve = await step(
        'retrieve',
        'retrieval',
        keys.map((key) => ({ key, decision: 'accepted' })),
      );
      await step(
        'filter-by-category',
        'filter',
        keys.map((key, i) => ({ key, decision: i < 4 ? 'rejected' : 'accepted' })),
      );
      await step(
        'filter-by-price',
        'filter',
        keys.map((key, i) => ({ key, decision: i === 4 || i === 5 ? 'rejected' : 'accepted' })),
      );
      return { runId, retrieve };
    }

    /** The answer, and the rollup's own item count, checked against the live question over the same range. */
    async function expectSameAsScores(pipeline: string, what: { good?: string; min?: number }) {
      const condition = what.min !== undefined ? `min=${what.min}` : `good=${what.good}`;
      const answer = (await api('get', `/v1/analytics/score-rejections?pipeline=${pipeline}&name=wanted&${condition}`).expect(200)).body;
      const good =
        what.min !== undefined
          ? sql`sc.value_number >= ${what.min}::double precision`
          : sql`(sc.value_label = ${what.good} OR sc.value_bool::text = ${what.good})`;
      const live = await t.app
        .get(ScoreAnalyticsRepository)
        .rejections({ projectId: project.id, pipeline, name: 'wanted', from: new Date(answer.from), to: new Date(answer.to) }, good);
      expect({ scoredItems: answer.scoredItems, goodItems: answer.goodItems }).toEqual({ scoredItems: live[0]?.scored ?? 0, goodItems: live[0]?.good ?? 0 });
      expect(answer.steps).toEqual(
        live
          .filter((r) => r.step_name !== null)
          .map((r) => ({
            stepName: r.step_name,
            rejected: r.rejected,
            rejectedGood: r.rejected_good,
            share: r.rejected! > 0 ? r.rejected_good! / r.rejected! : 0,
            exampleKeys: r.example_keys ?? [],
            examples: r.examples ?? [],
          })),
      );
      // Those items were counted by the rollup, not by the scores read at the range's edges.
      const [rolled] = await t.sql<{ n: number }>(
        `SELECT COALESCE(sum(items), 0)::int AS n FROM score_rejections_hourly WHERE project_id = $1 AND pipeline = $2 AND name = 'wanted' AND step_name = ''`,
        [project.id, pipeline],
      );
      expect(rolled.n).toBe(answer.scoredItems);
      return answer;
    }

    /**
     * The summary over the default range (its whole hours from the rollup) equals the summary
     * over the partial hour that holds every run of the pipeline (read from the scores).
     */
    async function expectSummarySameAsScores(pipeline: string, h: number) {
      const start = Math.floor(Date.parse(hoursAgo(h)) / HOUR) * HOUR;
      const within = `from=${new Date(start + 1).toISOString()}&to=${new Date(start + HOUR - 1).toISOString()}`;
      const rounded = (items: Record<string, unknown>[]) =>
        JSON.parse(JSON.stringify(items, (_, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(10)) : v)));
      for (const narrow of ['', '&target=candidate', '&name=wanted']) {
        const rolled = (await api('get', `/v1/scores/summary?pipeline=${pipeline}${narrow}`).expect(200)).body.items;
        const live = (await api('get', `/v1/scores/summary?pipeline=${pipeline}${narrow}&${within}`).expect(200)).body.items;
        expect(rounded(rolled)).toEqual(rounded(live));
      }
      const [counted] = await t.sql<{ n: number }>(`SELECT COALESCE(sum(n), 0)::int AS n FROM score_values_hourly WHERE project_id = $1 AND pipeline = $2`, [
        project.id,
        pipeline,
      ]);
      const summary = (await api('get', `/v1/scores/summary?pipeline=${pipeline}`).expect(200)).body.items as { count: number }[];
      expect(counted.n).toBe(summary.reduce((n, i) => n + i.count, 0));
      expect(counted.n).toBeGreaterThan(0);
    }

    it('stays exact through scores created, superseded, updated and deleted', async () => {
      const { runId: scoredRun, retrieve } = await pastRun('rollup-scores', 5);
      const wanted = (key: string, value: boolean | number) => ({ stepId: retrieve, key, name: 'wanted', value });
      const created = (
        await api('post', '/v1/scores/batch')
          .send({ scores: keys.slice(0, 6).map((key, i) => wanted(key, i % 2 === 0)) })
          .expect(201)
      ).body.items as { id: string }[];
      const first = await expectSameAsScores('rollup-scores', { good: 'true' });
      expect(first).toMatchObject({ scoredItems: 6, goodItems: 3 });
      expect(first.steps).toEqual([
        expect.objectContaining({ stepName: 'filter-by-category', rejected: 4, rejectedGood: 2 }),
        expect.objectContaining({ stepName: 'filter-by-price', rejected: 2, rejectedGood: 1 }),
      ]);
      // A later score of R0 supersedes the first (the latest counts).
      await new Promise((r) => setTimeout(r, 5));
      const later = await score(wanted('R0', false));
      expect(await expectSameAsScores('rollup-scores', { good: 'true' })).toMatchObject({ scoredItems: 6, goodItems: 2 });
      await score({ runId: scoredRun, name: 'run-verdict', value: 'fine' });
      await score({ stepId: retrieve, name: 'step-quality', value: 0.75 });
      await expectSummarySameAsScores('rollup-scores', 5);
      // Updating the latest score moves it; updating a superseded one does not.
      await api('patch', `/v1/scores/${created[2].id}`).send({ value: false }).expect(200);
      await api('patch', `/v1/scores/${created[0].id}`).send({ value: false }).expect(200);
      expect(await expectSameAsScores('rollup-scores', { good: 'true' })).toMatchObject({ scoredItems: 6, goodItems: 1 });
      await api('patch', `/v1/scores/${created[0].id}`).send({ value: true }).expect(200);
      await expectSummarySameAsScores('rollup-scores', 5);
      // Deleting the latest brings the one before it back; deleting an item's only score removes the item.
      await api('delete', `/v1/scores/${later.id}`).expect(204);
      expect(await expectSameAsScores('rollup-scores', { good: 'true' })).toMatchObject({ scoredItems: 6, goodItems: 2 });
      await api('delete', `/v1/scores/${created[5].id}`).expect(204);
      expect(await expectSameAsScores('rollup-scores', { good: 'false' })).toMatchObject({ scoredItems: 5, goodItems: 3 });
      // Through /v1/ingest, and numeric scores of the same name in another run.
      await api('post', '/v1/ingest')
        .send({ events: [{ id: randomUUID(), type: 'score-create', body: { id: randomUUID(), ...wanted('R6', true) } }] })
        .expect((res) => expect(res.body.results).toEqual([expect.objectContaining({ status: 201 })]));
      const numeric = await pastRun('rollup-scores', 5);
      for (const [i, key] of keys.slice(0, 5).entries()) await score({ stepId: numeric.retrieve, key, name: 'wanted', value: i / 4 });
      await expectSameAsScores('rollup-scores', { good: 'true' });
      await expectSummarySameAsScores('rollup-scores', 5);
      expect(await expectSameAsScores('rollup-scores', { min: 0.5 })).toMatchObject({ scoredItems: 11, goodItems: 3 });
    });

    it('stays exact through late rejections, replays, deleted runs, erased keys and writers at once', async () => {
      const { runId, retrieve } = await pastRun('rollup-writes', 4);
      for (const [i, key] of keys.entries()) await score({ stepId: retrieve, key, name: 'wanted', value: i % 3 !== 0 });
      await expectSameAsScores('rollup-writes', { good: 'true' });
      // A step that rejects after the scores (COPY's first batch), a replay that changes its decisions, and ingest.
      const rerank = (await api('post', `/v1/runs/${runId}/steps`).send({ name: 'rerank', type: 'rank' }).expect(201)).body.id as string;
      await api('post', `/v1/steps/${rerank}/candidates`)
        .send({ candidates: keys.slice(6).map((key) => ({ key, decision: 'rejected' })) })
        .expect(201);
      await expectSameAsScores('rollup-writes', { good: 'true' });
      await api('post', `/v1/steps/${rerank}/candidates`)
        .send({ candidates: [{ key: 'R6', decision: 'accepted' }] })
        .expect(201);
      const guard = randomUUID();
      await api('post', '/v1/ingest')
        .send({
          events: [
            { id: randomUUID(), type: 'step-create', body: { id: guard, runId, name: 'guardrail', type: 'filter' } },
            { id: randomUUID(), type: 'candidates-create', body: { stepId: guard, candidates: [{ key: 'R7', decision: 'rejected' }] } },
          ],
        })
        .expect((res) => expect(res.status).toBeLessThan(300));
      const afterLate = await expectSameAsScores('rollup-writes', { good: 'true' });
      expect(afterLate.steps.map((s: { stepName: string }) => s.stepName).sort()).toEqual(['filter-by-category', 'filter-by-price', 'guardrail', 'rerank']);

      // A deleted run leaves the rollup with its scores.
      const gone = await pastRun('rollup-writes', 4);
      for (const key of keys) await score({ stepId: gone.retrieve, key, name: 'wanted', value: true });
      expect((await expectSameAsScores('rollup-writes', { good: 'true' })).scoredItems).toBe(20);
      await expectSummarySameAsScores('rollup-writes', 4);
      await api('delete', `/v1/runs/${gone.runId}`).expect(200);
      expect((await expectSameAsScores('rollup-writes', { good: 'true' })).scoredItems).toBe(10);
      // An erased key leaves it everywhere.
      await api('delete', '/v1/candidates').query({ key: 'R1' }).expect(200);
      expect((await expectSameAsScores('rollup-writes', { good: 'true' })).scoredItems).toBe(9);
      await expectSummarySameAsScores('rollup-writes', 4);

      // Scores and rejecting batches of one run at once (R1 is erased: no longer stored).
      const race = await pastRun('rollup-writes', 2);
      const kept = keys.filter((key) => key !== 'R1');
      const filters: string[] = [];
      for (let i = 0; i < 3; i++)
        filters.push(
          (
            await api('post', `/v1/runs/${race.runId}/steps`)
              .send({ name: `race-${i}`, type: 'filter' })
              .expect(201)
          ).body.id,
        );
      await Promise.all([
        ...kept.map((key) => score({ stepId: race.retrieve, key, name: 'wanted', value: true })),
        ...filters.map((id) =>
          api('post', `/v1/steps/${id}/candidates`)
            .send({ candidates: kept.map((key) => ({ key, decision: 'rejected' })) })
            .expect(201),
        ),
      ]);
      const raced = await expectSameAsScores('rollup-writes', { good: 'true' });
      for (let i = 0; i < 3; i++) expect(raced.steps).toContainEqual(expect.objectContaining({ stepName: `race-${i}`, rejected: 9, rejectedGood: 9 }));
    });

    it('is filled from the stored scores by its migration', async () => {
      const before = await expectSameAsScores('rollup-writes', { good: 'true' });
      const migration = new AddScoreRollups1795600700000();
      const runner = { query: (text: string, params?: unknown[]) => t.sql(text, params) } as unknown as QueryRunner;
      await migration.down(runner);
      await migration.up(runner);
      expect({ ...(await expectSameAsScores('rollup-writes', { good: 'true' })), from: null, to: null }).toEqual({ ...before, from: null, to: null });
      await expectSummarySameAsScores('rollup-scores', 5);
    });
  });

  describe('compareRuns', () => {
    it('shows the runs’ and aligned steps’ score differences by name', async () => {
      const a = await runWith('compare', [{ name: 'retrieve' }, { name: 'rank' }]);
      const b = await runWith('compare', [{ name: 'retrieve' }, { name: 'rank' }]);
      await score({ runId: a.runId, name: 'correct', value: false });
      await score({ runId: b.runId, name: 'correct', value: true });
      await score({ runId: a.runId, name: 'only-left', value: 'x' });
      await score({ stepId: a.stepIds[0], name: 'recall', value: 0.5 });
      await score({ stepId: b.stepIds[0], name: 'recall', value: 0.75 });
      await score({ stepId: a.stepIds[1], name: 'same', value: 1 });
      await score({ stepId: b.stepIds[1], name: 'same', value: 1 });
      const body = (await api('get', `/v1/runs/${a.runId}/compare/${b.runId}`).expect(200)).body;
      expect(body.scores).toEqual([
        {
          name: 'correct',
          left: { dataType: 'boolean', value: false, count: 1 },
          right: { dataType: 'boolean', value: true, count: 1 },
          changed: true,
          delta: null,
        },
        { name: 'only-left', left: { dataType: 'categorical', value: 'x', count: 1 }, right: null, changed: true, delta: null },
      ]);
      const byPath = Object.fromEntries(body.steps.map((st: { path: string[]; scores: unknown }) => [st.path.join('/'), st.scores]));
      expect(byPath.retrieve).toEqual([expect.objectContaining({ name: 'recall', changed: true, delta: 0.25 })]);
      expect(byPath.rank).toEqual([expect.objectContaining({ name: 'same', changed: false, delta: 0 })]);
      expectError(await api('get', `/v1/runs/${a.runId}/compare/${b.runId}`, other.key), 404, 'RUN_NOT_FOUND');
    });
  });
  describe('retries, scopes and CORS', () => {
    let runId: string;
    let stepId: string;
    let feedbackKey: string;

    beforeAll(async () => {
      ({
        runId,
        stepIds: [stepId],
      } = await runWith('widget', [{ name: 'rank', candidates: [{ key: 'B0CASE', decision: 'selected' }] }]));
      feedbackKey = (
        await api('post', '/v1/api-keys')
          .send({ name: 'widget', scopes: ['feedback'] })
          .expect(201)
      ).body.key;
    });

    it('shows a score retried with the same id once, in details, lists and summaries', async () => {
      const id = randomUUID();
      const body = { id, stepId, key: 'B0CASE', name: 'thumbs', value: true, source: 'human' };
      const first = await score(body);
      const again = (
        await api('post', '/v1/scores/batch')
          .send({ scores: [body] })
          .expect(201)
      ).body.items[0];
      expect(again).toEqual(first);
      const candidate = (await api('get', `/v1/steps/${stepId}/candidates/B0CASE`).expect(200)).body;
      expect(candidate.scores.map((s: { id: string }) => s.id)).toEqual([id]);
      const summary = (await api('get', '/v1/scores/summary?pipeline=widget&name=thumbs').expect(200)).body.items;
      expect(summary).toEqual([expect.objectContaining({ count: 1 })]);
      // The same new id twice in one batch: one score, answered twice.
      const twice = { ...body, id: randomUUID(), name: 'twice' };
      const pair = (
        await api('post', '/v1/scores/batch')
          .send({ scores: [twice, twice] })
          .expect(201)
      ).body.items;
      expect(pair[1]).toEqual(pair[0]);
      expect((await api('get', `/v1/scores?name=twice&stepId=${stepId}`).expect(200)).body.items).toHaveLength(1);
    });

    it('lets a feedback key create scores and nothing else, on every route', async () => {
      const doc = (await request(t.http).get('/docs-json').expect(200)).body as { paths: Record<string, Record<string, { security?: unknown[] }>> };
      const allowed = new Set(['post /v1/scores', 'post /v1/scores/batch', 'get /v1/auth/key']);
      const ids: Record<string, string> = { id: runId, otherId: runId, runId, stepId, key: 'B0CASE', name: 'thumbs', pipeline: 'widget' };
      const checked: string[] = [];
      for (const [path, methods] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(methods)) {
          if (!op.security || allowed.has(`${method} ${path}`)) continue;
          const url = path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? randomUUID());
          const agent = request(t.http);
          const res = await agent[method as 'get'](url)
            .set(as(feedbackKey))
            .send(method === 'get' || method === 'delete' ? undefined : {});
          expect([method, path, res.status]).toEqual([method, path, 403]);
          checked.push(`${method} ${path}`);
        }
      }
      expect(checked).toEqual(
        expect.arrayContaining(['get /v1/scores/summary', 'get /v1/analytics/score-rejections', 'get /v1/runs/{id}', 'get /v1/steps/{id}']),
      );
      const otlp = await request(t.http).post('/v1/traces').set(as(feedbackKey)).set('Content-Type', 'application/json').send('{}');
      expect(otlp.status).toBe(403);
      await request(t.http).post('/v1/scores').set(as(feedbackKey)).send({ stepId, key: 'B0CASE', name: 'thumbs', value: false, source: 'human' }).expect(201);
    });

    it('answers a browser widget’s preflight from an allowed origin and its POST, and not other origins', async () => {
      const origin = 'https://shop.example.com';
      const preflight = await request(t.http)
        .options('/v1/scores')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(origin);
      expect(preflight.headers['access-control-allow-methods']).toContain('POST');
      expect(preflight.headers['access-control-allow-headers'].toLowerCase()).toContain('authorization');
      expect(preflight.headers['access-control-allow-headers'].toLowerCase()).toContain('content-type');

      const posted = await request(t.http)
        .post('/v1/scores')
        .set('Origin', origin)
        .set(as(feedbackKey))
        .send({ stepId, key: 'B0CASE', name: 'thumbs', value: true, source: 'human', comment: 'from the widget' })
        .expect(201);
      expect(posted.headers['access-control-allow-origin']).toBe(origin);
      expect(posted.body).toMatchObject({ target: 'candidate', key: 'B0CASE', value: true });

      const refused = await request(t.http).options('/v1/scores').set('Origin', 'https://evil.example.com').set('Access-Control-Request-Method', 'POST');
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
      const denied = await request(t.http).get('/v1/runs').set('Origin', origin).set(as(feedbackKey));
      expect(denied.status).toBe(403);
    });
  });
});
