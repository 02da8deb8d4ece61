import type { AddressInfo } from 'node:net';
import { getRun, getStep, XrayClient } from '@xray-sys/sdk';
import { createTestApp, type TestApp } from '../../api/test/harness.js';
import { PLANTED, REFERENCE } from '../src/catalog.js';
import { competitorSelection } from '../src/competitor-selection.js';
import { explainCompetitorSelection, explainRagAnswer, lineage } from '../src/explain.js';
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
