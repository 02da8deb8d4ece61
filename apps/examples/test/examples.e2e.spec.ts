import type { AddressInfo } from 'node:net';
import { getRun, getScoreRejections, getStep, listCandidates, listRuns, listScores, XrayClient } from '@xray-sys/sdk';
import { createTestApp, type TestApp } from '../../api/test/harness.js';
import { PLANTED, REFERENCE } from '../src/catalog.js';
import { competitorSelection } from '../src/competitor-selection.js';
import { makeCatalog } from '../src/catalog.js';
import { explainCompetitorSelection, explainRagAnswer, explainReview, lineage } from '../src/explain.js';
import { isGoodCompetitor, reviewCompetitorSelection } from '../src/review.js';
import { ragAnswer } from '../src/rag-answer.js';

/** The example pipelines against the real server: they land whole, and the planted bug can be found with xray. */
describe('example pipelines', () => {
  let t: TestApp;
  let xray: XrayClient;
  let baseUrl: string;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    xray = new XrayClient({ baseUrl, apiKey: (await t.newProject('examples')).key, exitFlushTimeoutMs: 0 });
  }, 180_000); // booting the app and the embedded database is the slow part on a busy machine
  afterAll(async () => {
    await xray?.shutdown({ timeoutMs: 1000 });
    await t?.close();
  });

  it('competitor-selection picks the planted phone case, and xray shows where the category filter let it through', async () => {
    const result = await competitorSelection(xray);
    expect(result.selected.asin).toBe(PLANTED.asin);
    expect(await xray.flush({ timeoutMs: 30_000 })).toBe(true);
    expect(xray.stats()).toMatchObject({ rejected: 0, dropped: 0 });

    const run = (await getRun({ client: xray.api, path: { id: result.runId } })).data!;
    expect(run.status).toBe('success');
    expect(run.steps.map((s) => s.name)).toEqual(['keyword-generation', 'search', 'filter', 'rank', 'select']);
    const search = run.steps[1];
    expect(search.candidatesIn).toBe(5_000);
    const filter = run.steps[2];
    expect(filter.children.map((c) => c.name)).toEqual(['filter-by-price', 'filter-by-rating', 'filter-by-category']);
    // Each filter takes what the previous one kept; counts are exact though only a sample is stored.
    const [price, rating, category] = filter.children;
    expect(price.candidatesIn).toBe(5_000);
    expect(rating.candidatesIn).toBe(price.candidatesOut);
    expect(category.candidatesIn).toBe(rating.candidatesOut);
    expect(filter).toMatchObject({ candidatesIn: 5_000, candidatesOut: category.candidatesOut, candidatesStored: 0 });
    expect(price.candidatesStored).toBeLessThan(price.candidatesIn);
    const catStep = (await getStep({ client: xray.api, path: { id: category.id } })).data!;
    const stats = catStep.metadata.xray as { total: number; out: number; capture: string; reasons: Record<string, number> };
    expect(stats).toMatchObject({ capture: 'sample', total: category.candidatesIn, out: category.candidatesOut });
    expect(Object.values(stats.reasons).reduce((a, b) => a + b, 0)).toBe(category.candidatesIn - category.candidatesOut);

    // The reader's question: how did a phone case become a laptop stand's competitor?
    const path = await lineage(xray, result);
    expect(path.map((p) => [p.step, p.decision])).toEqual([
      ['search', 'accepted'],
      ['filter-by-price', 'accepted'],
      ['filter-by-rating', 'accepted'],
      ['filter-by-category', 'accepted'],
      ['rank', 'accepted'],
      ['select', 'selected'],
    ]);
    expect(path[3].detail).toContain('title mentions "stand"');
    expect(PLANTED.category).not.toBe(REFERENCE.category);

    const text = (await explainCompetitorSelection(xray, result, baseUrl)).join('\n');
    expect(text).toContain(result.runId);
    expect(text).toContain(`/v1/candidates?key=${PLANTED.asin}`);
  });

  it('competitor-selection is scored (evaluator, a shopper’s report, a reviewer), and the cross-run question points at the category filter', async () => {
    const runs = [await competitorSelection(xray), await competitorSelection(xray)];
    expect(await xray.flush({ timeoutMs: 30_000 })).toBe(true);
    const reviews = [];
    for (const r of runs) reviews.push(await reviewCompetitorSelection(xray, r));
    expect(xray.stats()).toMatchObject({ rejected: 0, dropped: 0 });

    for (const [i, r] of runs.entries()) {
      // The evaluator judged the run; the shopper marked the phone case wrong.
      const own = (await listScores({ client: xray.api, query: { runId: r.runId, name: 'same-category' }, throwOnError: true })).data.items;
      expect(own).toMatchObject([{ target: 'run', value: false, source: 'evaluator', author: 'category-check', comment: 'picked from Phone Cases' }]);
      const report = (await listScores({ client: xray.api, query: { runId: r.runId, key: PLANTED.asin, name: 'correct' }, throwOnError: true })).data.items;
      expect(report).toMatchObject([{ target: 'candidate', stepId: r.steps.select, value: false, source: 'human', author: 'shopper-feedback' }]);
      expect(reviews[i].report).toMatchObject({ id: report[0].id, value: false });
    }
    // Runs whose pick is of another category, found by their evaluator score: every run of the
    // example picks the phone case, so all of them and none with same-category=true.
    const byScore = async (condition: string) =>
      (
        await listRuns({ client: xray.api, query: { pipeline: 'competitor-selection', score: { 'same-category': condition }, limit: 100 }, throwOnError: true })
      ).data.items
        .map((r) => r.id)
        .sort();
    const all = (await listRuns({ client: xray.api, query: { pipeline: 'competitor-selection', limit: 100 }, throwOnError: true })).data.items
      .map((r) => r.id)
      .sort();
    expect(all).toEqual(expect.arrayContaining(runs.map((r) => r.runId)));
    expect(await byScore('false')).toEqual(all);
    expect(await byScore('true')).toEqual([]);

    // The answer, worked out independently: good listings among each step's stored rejections.
    const catalog = new Map(makeCatalog().map((p) => [p.asin, p]));
    const goodRejected = async (step: string) => {
      let n = 0;
      for (const r of runs) {
        const page = await listCandidates({
          client: xray.api,
          path: { stepId: r.steps[step] },
          query: { decision: 'rejected', limit: 500 },
          throwOnError: true,
        });
        n += page.data.items.filter((c) => isGoodCompetitor(catalog.get(c.key)!)).length;
      }
      return n;
    };
    const answer = (
      await getScoreRejections({ client: xray.api, query: { pipeline: 'competitor-selection', name: 'correct', good: 'true' }, throwOnError: true })
    ).data;
    expect(answer.steps[0].stepName).toBe('filter-by-category');
    const byStep = Object.fromEntries(answer.steps.map((s) => [s.stepName, s.rejectedGood]));
    expect(byStep['filter-by-category']).toBe(await goodRejected('filter-by-category'));
    expect(byStep['filter-by-category']).toBeGreaterThan(0);
    expect(byStep['filter-by-price'] ?? 0).toBe(0);
    expect(byStep['filter-by-rating'] ?? 0).toBe(0);
    expect(byStep.select ?? 0).toBe(await goodRejected('select'));
    expect(byStep['filter-by-category']).toBeGreaterThan(byStep.select ?? 0);
    const text = (await explainReview(xray, runs[0], reviews[0], baseUrl)).join('\n');
    expect(text).toContain('score-rejections?pipeline=competitor-selection&name=correct&good=true');
    expect(text).toMatch(/filter-by-category\s+rejected\s+\d+ good/);
  }, 300_000); // two runs of 5,000 candidates and their reviews, on a machine shared with other suites

  it('rag-answer lands whole with its nested citation check', async () => {
    const result = await ragAnswer(xray);
    expect(await xray.flush({ timeoutMs: 30_000 })).toBe(true);
    const run = (await getRun({ client: xray.api, path: { id: result.runId } })).data!;
    expect(run).toMatchObject({ status: 'success', output: { answer: result.answer, citations: result.citations } });
    expect(run.steps.map((s) => [s.name, s.type, s.candidatesIn, s.candidatesOut])).toEqual([
      ['rewrite-query', 'llm', 0, 0],
      ['retrieve', 'retrieval', 600, 40],
      ['rerank', 'rank', 40, 5],
      ['answer', 'llm', 0, 0],
    ]);
    expect(run.steps[3].children[0]).toMatchObject({ name: 'check-citations', type: 'tool', candidatesIn: 5, candidatesOut: 5 });
    // The LLM steps carry their model, usage and cost, and the run their totals.
    expect(run.steps[0]).toMatchObject({ model: 'demo-llm-mini', provider: 'demo', usage: { input: 48, output: 16, total: 64 }, costUsd: 0.000012 });
    expect(run.steps[3]).toMatchObject({ model: 'demo-llm', usage: { input: 1180, output: 412, total: 1592, cacheRead: 1024 }, costUsd: 0.00042 });
    expect(run).toMatchObject({ inputTokens: 1228, outputTokens: 428, totalTokens: 1656 });
    expect(run.costUsd).toBeCloseTo(0.000432, 12);
    expect(result.citations.every((c) => c.startsWith('router'))).toBe(true);
    expect((await explainRagAnswer(xray, result, baseUrl)).join('\n')).toContain(result.runId);
  });
});
