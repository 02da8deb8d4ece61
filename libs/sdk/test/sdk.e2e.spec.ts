import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../../../apps/api/test/harness.js';
import { XrayClient, type XrayClientOptions } from '../src/client.js';
import type { XrayError } from '../src/errors.js';
import {
  createApiKey,
  createScoreConfig,
  getCandidateSummary,
  getRun,
  getStep,
  listCandidates,
  listRuns,
  listScores,
  type StepNodeDto,
} from '../src/generated/index.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeOpenApi } from '../scripts/openapi-spec.js';
import { freePort } from './fake-ingest.js';

/**
 * The SDK against the real API and database (PostgreSQL when DATABASE_URL is set, else the
 * embedded one): what a pipeline records must land whole, once, whatever the network does.
 */
describe('SDK against the real server', () => {
  let t: TestApp;
  let baseUrl: string;
  let key: string;
  const clients: XrayClient[] = [];

  const fast: Partial<XrayClientOptions> = { flushIntervalMs: 20, retryBaseMs: 50, retryMaxMs: 300, exitFlushTimeoutMs: 0 };
  const client = (opts: Partial<XrayClientOptions> = {}) => {
    const c = new XrayClient({ baseUrl, apiKey: key, ...fast, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    key = (await t.newProject('sdk')).key;
  }, 180_000); // booting the app and the embedded database is the slow part on a busy machine
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.shutdown({ timeoutMs: 1000 })));
    await t?.close();
  });

  const tree = async (xray: XrayClient, runId: string) => {
    const res = await getRun({ client: xray.api, path: { id: runId } });
    if (!res.data) throw new Error(`getRun ${res.response.status}: ${JSON.stringify(res.error)}`);
    return res.data;
  };

  it('is generated from the document the running server serves', async () => {
    // The spec is emitted without providers (Nest preview mode); a fully booted app must agree.
    const served = (await (await fetch(`${baseUrl}/docs-json`)).json()) as Record<string, unknown>;
    const committed = await readFile(join(process.cwd(), 'libs', 'sdk', 'openapi.json'), 'utf8');
    expect(`${JSON.stringify(normalizeOpenApi(served), null, 2)}\n`).toBe(committed);
  });

  it('lands the quick start whole: run, nested steps, candidates, statuses', async () => {
    const xray = client();
    const items = Array.from({ length: 300 }, (_, i) => ({
      key: `B0${i}`,
      decision: i < 40 ? ('accepted' as const) : ('rejected' as const),
      ...(i < 40 ? { score: i / 40 } : { reason: i % 2 ? 'price above $50' : 'rating below 4' }),
      evaluations: [{ check: 'price', passed: i < 40, detail: `$${20 + i}` }],
      data: { title: `item ${i}`, price: 20 + i },
    }));
    const run = await xray.startRun({ pipeline: 'sdk-quickstart', input: { title: 'Adjustable laptop stand' }, metadata: { env: 'e2e' }, tags: ['nightly'] });
    try {
      await run.step('keyword-generation', async (step) => step.complete({ output: ['laptop stand'], reasoning: 'title words' }), { type: 'llm' });
      await run.step(
        'filter-by-price',
        async (step) => {
          step.candidates(items, { capture: 'sample', samplePerReason: 50 });
          await step.step('price-rule', async (child) => child.complete({ output: { maxPrice: 50 } }));
          step.complete({ output: { kept: 40 }, reasoning: 'kept items under $50' });
        },
        { type: 'filter', input: { maxPrice: 50 } },
      );
      await run.complete({ status: 'success', output: { selected: 'B00' } });
    } catch (err) {
      await run.fail(err);
      throw err;
    }
    expect(await xray.flush({ timeoutMs: 20_000 })).toBe(true);
    expect(xray.stats()).toMatchObject({ rejected: 0, dropped: 0, unsent: 0, queued: 0 });

    const detail = await tree(xray, run.id);
    expect(detail).toMatchObject({
      id: run.id,
      pipeline: 'sdk-quickstart',
      status: 'success',
      input: { title: 'Adjustable laptop stand' },
      output: { selected: 'B00' },
      metadata: { env: 'e2e' },
      tags: ['nightly'],
    });
    expect(detail.endedAt).not.toBeNull();
    expect(detail.steps.map((s) => [s.name, s.type, s.status, s.position])).toEqual([
      ['keyword-generation', 'llm', 'success', 0],
      ['filter-by-price', 'filter', 'success', 1],
    ]);
    const filter = detail.steps[1] as StepNodeDto;
    expect(filter.children.map((c) => [c.name, c.status, c.parentStepId])).toEqual([['price-rule', 'success', filter.id]]);
    expect(filter).toMatchObject({ reasoning: 'kept items under $50', candidatesIn: 300, candidatesOut: 40, candidatesStored: 140, input: { maxPrice: 50 } });
    expect(filter.eliminationRatio).toBeCloseTo(1 - 40 / 300, 5);

    const rejected = await listCandidates({ client: xray.api, path: { stepId: filter.id }, query: { decision: 'rejected', limit: 1000 } });
    expect(rejected.data?.items).toHaveLength(100);
    expect(rejected.data?.items[0]).toMatchObject({
      decision: 'rejected',
      evaluations: [{ check: 'price', passed: false }],
      data: { title: expect.any(String) },
    });

    const runs = await listRuns({ client: xray.api, query: { pipeline: 'sdk-quickstart' } });
    expect(runs.data?.items.map((r) => r.id)).toEqual([run.id]);
    // The metadata filter is a deepObject: the generated client sends metadata[env]=e2e.
    const byMetadata = await listRuns({ client: xray.api, query: { pipeline: 'sdk-quickstart', metadata: { env: 'e2e' } } });
    expect({ status: byMetadata.response.status, ids: byMetadata.data?.items.map((r) => r.id) }).toEqual({ status: 200, ids: [run.id] });
    const otherMetadata = await listRuns({ client: xray.api, query: { pipeline: 'sdk-quickstart', metadata: { env: 'prod' } } });
    expect(otherMetadata.data?.items).toEqual([]);
  });

  it('sampled steps report exact totals and the full reason histogram', async () => {
    const xray = client();
    const run = await xray.startRun({ pipeline: 'sdk-sampling' });
    const reasons = ['price above $50', 'rating below 4', 'wrong category', 'out of stock'];
    const list = Array.from({ length: 5_000 }, (_, i) => ({
      key: `P${i}`,
      decision: i % 50 === 0 ? ('accepted' as const) : i === 7 ? ('selected' as const) : ('rejected' as const),
      ...(i % 50 === 0 || i === 7 ? {} : { reason: reasons[i % 4] }),
    }));
    const expected: Record<string, number> = {};
    for (const c of list) if ('reason' in c && c.reason) expected[c.reason] = (expected[c.reason] ?? 0) + 1;
    let stepId = '';
    await run.step(
      'filter',
      (step) => {
        stepId = step.id;
        step.candidates(list, { capture: 'sample', samplePerReason: 30 });
      },
      { type: 'filter' },
    );
    await run.complete();
    expect(await xray.flush({ timeoutMs: 20_000 })).toBe(true);

    const step = (await getStep({ client: xray.api, path: { id: stepId } })).data!;
    expect(step).toMatchObject({ candidatesIn: 5_000, candidatesOut: 101, candidatesStored: 101 + 4 * 30, status: 'success' });
    expect(step.metadata.xray).toEqual({
      capture: 'sample',
      samplePerReason: 30,
      total: 5_000,
      out: 101,
      stored: 221,
      byDecision: { accepted: 100, rejected: 4_899, selected: 1 },
      reasons: expected,
    });
    const summary = (await getCandidateSummary({ client: xray.api, path: { stepId } })).data!;
    expect(summary.total).toBe(221);
    expect(summary.reasons.map((r) => r.count)).toEqual([30, 30, 30, 30]);
  });

  it('lets an error thrown in a step reach the caller unchanged, and records it', async () => {
    const xray = client();
    class InventoryError extends Error {}
    const boom = new InventoryError('inventory service timed out');
    const run = await xray.startRun({ pipeline: 'sdk-errors' });
    let caught: unknown;
    try {
      await run.step(
        'search',
        (step) =>
          step.step('fetch-inventory', async () => {
            throw boom;
          }),
        { type: 'retrieval' },
      );
      await run.complete();
    } catch (err) {
      caught = err;
      await run.fail(err);
    }
    expect(caught).toBe(boom);
    expect(await xray.flush({ timeoutMs: 20_000 })).toBe(true);
    const detail = await tree(xray, run.id);
    expect(detail).toMatchObject({ status: 'error', error: { type: 'InventoryError', message: 'inventory service timed out' } });
    const [search] = detail.steps;
    expect(search).toMatchObject({ status: 'error', error: { type: 'InventoryError', message: 'inventory service timed out' } });
    expect(search.children[0]).toMatchObject({ name: 'fetch-inventory', status: 'error', error: { message: 'inventory service timed out' } });
    expect(search.children[0].error?.stack).toContain('inventory service timed out');
  });

  it('records run, step, candidate and evaluator scores, and feedback given later with a feedback key', async () => {
    const errors: XrayError[] = [];
    const xray = client({ onError: (e) => errors.push(e) });
    // A configured name is checked by the server: a label outside it is refused and reported, never thrown.
    await createScoreConfig({ client: xray.api, body: { name: 'sdk-verdict', dataType: 'categorical', labels: ['good', 'bad'] }, throwOnError: true });
    const stand = async function standInTitle(ctx: { output?: unknown }) {
      return { name: 'mentions-stand', value: JSON.stringify(ctx.output ?? '').includes('stand'), comment: 'title check' };
    };
    const run = await xray.startRun({
      pipeline: 'sdk-scores',
      input: { title: 'laptop stand' },
      evaluators: [
        stand,
        () => {
          throw new Error('judge unavailable');
        },
      ],
    });
    let stepId = '';
    await run.step(
      'select',
      (step) => {
        stepId = step.id;
        step.candidates([
          { key: 'B0CASE', decision: 'selected' },
          { key: 'B0STAND', decision: 'rejected', reason: 'lower score' },
        ]);
        step.score('confidence', 0.35, { comment: 'close call' });
        step.scoreCandidate('B0CASE', 'correct', false, { comment: 'a phone case', source: 'human', author: 'qa' });
        step.scoreCandidate('B0NEVER', 'correct', true);
        step.score('sdk-verdict', 'meh');
      },
      { type: 'rank' },
    );
    run.score('sdk-verdict', 'bad', { id: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a99' });
    await run.complete({ output: { title: 'Kickstand phone case' } });
    expect(await xray.flush({ timeoutMs: 20_000 })).toBe(true);

    const list = await listScores({ client: xray.api, query: { runId: run.id, limit: 100 }, throwOnError: true });
    const byName = (name: string) => list.data.items.filter((s) => s.name === name);
    expect(byName('confidence')).toMatchObject([{ target: 'step', stepId, value: 0.35, source: 'sdk', comment: 'close call' }]);
    expect(byName('correct')).toMatchObject([{ target: 'candidate', stepId, key: 'B0CASE', value: false, source: 'human', author: 'qa' }]);
    expect(byName('sdk-verdict')).toMatchObject([{ id: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a99', target: 'run', value: 'bad', source: 'sdk' }]);
    expect(byName('mentions-stand')).toMatchObject([{ target: 'run', value: true, source: 'evaluator', author: 'standInTitle', comment: 'title check' }]);
    expect(list.data.items).toHaveLength(4);
    // Refused by the server (unknown candidate key, a label outside the configuration) or by the evaluator: reported.
    const kinds = errors.map((e) => e.kind).sort();
    expect(kinds).toEqual(['evaluator', 'rejected', 'rejected']);
    expect(errors.find((e) => e.kind === 'evaluator')?.message).toMatch(/judge unavailable/);
    expect(xray.stats()).toMatchObject({ rejected: 2, dropped: 0, unsent: 0, queued: 0 });

    // Later, from a web handler holding only a feedback key.
    const made = await createApiKey({ client: xray.api, body: { name: 'widget', scopes: ['feedback'] }, throwOnError: true });
    const widget = client({ apiKey: made.data.key });
    const feedback = {
      stepId,
      key: 'B0STAND',
      name: 'thumbs',
      value: 'up',
      source: 'human' as const,
      author: 'shopper',
      id: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a98',
    };
    const stored = await widget.score(feedback);
    expect(stored).toMatchObject({
      id: feedback.id,
      runId: run.id,
      stepId,
      key: 'B0STAND',
      target: 'candidate',
      value: 'up',
      source: 'human',
      author: 'shopper',
    });
    // A retry with the same id answers the same score; there is still one.
    expect(await widget.score(feedback)).toMatchObject({ id: feedback.id });
    const thumbs = await listScores({ client: xray.api, query: { runId: run.id, name: 'thumbs' }, throwOnError: true });
    expect(thumbs.data.items).toHaveLength(1);
    await expect(widget.score({ runId: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a00', name: 'thumbs', value: 'up' })).rejects.toMatchObject({
      kind: 'http',
      status: 404,
    });
    await expect(widget.score({ runId: run.id, name: 'sdk-verdict', value: 'meh' })).rejects.toMatchObject({
      kind: 'http',
      status: 400,
      message: expect.stringContaining('must be one of'),
    });
  });

  it('with the server down: runs at full speed, keeps memory bounded, and shuts down by its deadline', async () => {
    const errors: XrayError[] = [];
    const xray = client({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      maxBufferEvents: 2_000,
      maxBufferBytes: 2 * 1024 * 1024,
      onError: (e) => errors.push(e),
    });
    const candidates = Array.from({ length: 100 }, (_, i) => ({ key: `c${i}`, decision: 'rejected' as const, reason: 'too far', data: { i } }));
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    for (let r = 0; r < 20; r++) {
      const run = await xray.startRun({ pipeline: 'sdk-offline', input: { r } });
      for (let s = 0; s < 100; s++) {
        await run.step(`step-${s}`, (step) => {
          step.candidates(candidates);
        });
      }
      await run.complete();
    }
    const elapsed = Date.now() - started;
    // 2,000 steps and 200,000 candidates: nothing waits on the network (generous bound).
    expect(elapsed).toBeLessThan(15_000);
    const stats = xray.stats();
    expect(stats.queued + stats.inFlight).toBeLessThanOrEqual(2_000);
    expect(stats.queuedBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.sent).toBe(0);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 1024 * 1024);
    expect(errors.some((e) => e.kind === 'dropped')).toBe(true);

    const before = Date.now();
    const result = await xray.shutdown({ timeoutMs: 500 });
    expect(Date.now() - before).toBeLessThan(5_000);
    expect(result.drained).toBe(false);
    expect(xray.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });

  describe('through a proxy that can be down or lose answers', () => {
    let proxy: Server | undefined;
    let proxyPort: number;
    /** Requests whose answer the proxy throws away after the server has applied them. */
    let loseAnswers = 0;
    let forwarded = 0;

    const startProxy = async () => {
      proxy = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => void forward());
        const forward = async () => {
          try {
            const upstream = await fetch(`${baseUrl}${req.url}`, {
              method: req.method,
              headers: { 'content-type': 'application/json', authorization: String(req.headers.authorization ?? '') },
              body: chunks.length ? Buffer.concat(chunks) : undefined,
            });
            const text = await upstream.text();
            forwarded++;
            if (loseAnswers > 0) {
              loseAnswers--;
              req.socket.destroy();
              return;
            }
            res.writeHead(upstream.status, { 'content-type': 'application/json' });
            res.end(text);
          } catch {
            req.socket.destroy();
          }
        };
      });
      await new Promise<void>((resolve) => proxy!.listen(proxyPort, '127.0.0.1', resolve));
    };

    beforeEach(async () => {
      proxyPort = await freePort();
      loseAnswers = 0;
      forwarded = 0;
    });
    afterEach(async () => {
      const p = proxy;
      proxy = undefined;
      if (p) {
        p.closeAllConnections();
        await new Promise<void>((resolve) => p.close(() => resolve()));
      }
    });

    const pipeline = async (xray: XrayClient, name: string) => {
      const run = await xray.startRun({ pipeline: name });
      for (let s = 0; s < 30; s++) {
        await run.step(`step-${s}`, async (step) => {
          await step.step('child', (child) => child.complete({ output: s }));
          step.candidates(
            Array.from({ length: 20 }, (_, i) => ({
              key: `k${i}`,
              decision: i < 5 ? ('accepted' as const) : ('rejected' as const),
              reason: i < 5 ? undefined : 'low score',
            })),
          );
        });
      }
      await run.complete({ output: { done: true } });
      return run;
    };

    const expectLandedOnce = async (xray: XrayClient, runId: string) => {
      const detail = await tree(xray, runId);
      expect(detail.status).toBe('success');
      expect(detail.steps).toHaveLength(30);
      for (const s of detail.steps) {
        expect(s).toMatchObject({ status: 'success', candidatesIn: 20, candidatesOut: 5, candidatesStored: 20 });
        expect(s.children).toHaveLength(1);
      }
      const [{ steps }] = await t.sql<{ steps: number }>('SELECT count(*)::int AS steps FROM steps WHERE run_id = $1', [runId]);
      const [{ candidates }] = await t.sql<{ candidates: number }>('SELECT count(*)::int AS candidates FROM candidates WHERE run_id = $1', [runId]);
      expect({ steps, candidates }).toEqual({ steps: 60, candidates: 600 });
      const stats = xray.stats();
      expect(stats).toMatchObject({ sent: stats.enqueued, rejected: 0, dropped: 0, unsent: 0, queued: 0 });
    };

    it('buffers while the server is away and delivers everything once when it is back', async () => {
      const xray = client({ baseUrl: `http://127.0.0.1:${proxyPort}`, maxBatchEvents: 50 });
      const run = await pipeline(xray, 'sdk-comeback');
      // Let a few attempts fail against the closed port.
      for (let i = 0; i < 100 && xray.stats().retries < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(xray.stats()).toMatchObject({ sent: 0, dropped: 0 });
      expect(xray.stats().retries).toBeGreaterThanOrEqual(2);
      await startProxy();
      expect(await xray.flush({ timeoutMs: 30_000 })).toBe(true);
      await expectLandedOnce(xray, run.id);
    });

    it('with the buffer overflowing while the server is away: every run and step lands, and each step says how many candidates were cut', async () => {
      const xray = client({ baseUrl: `http://127.0.0.1:${proxyPort}`, maxBufferEvents: 80, candidatesPerEvent: 20 });
      const run = await xray.startRun({ pipeline: 'sdk-overflow', metadata: { env: 'e2e' } });
      const stepIds: string[] = [];
      for (let s = 0; s < 12; s++) {
        await run.step(
          `filter-${s}`,
          async (step) => {
            stepIds.push(step.id);
            await step.step('price-rule', (child) => child.complete({ output: { maxPrice: 50 } }));
            step.candidates(
              Array.from({ length: 100 }, (_, i) => ({
                key: `B0${s}-${i}`,
                decision: i < 25 ? ('accepted' as const) : ('rejected' as const),
                reason: i < 25 ? undefined : 'price above $50',
              })),
            );
            step.complete({ output: { kept: 25 }, metadata: { region: 'eu' } });
          },
          { type: 'filter' },
        );
      }
      await run.complete({ output: { done: true } });
      const full = xray.stats();
      expect(full.droppedByKind).toMatchObject({ runs: 0, steps: 0 });
      expect(full.candidatesDropped).toBeGreaterThan(0);
      await startProxy();
      expect(await xray.flush({ timeoutMs: 30_000 })).toBe(true);
      expect(xray.stats()).toMatchObject({ rejected: 0, queued: 0, droppedByKind: { runs: 0, steps: 0 } });

      const detail = await tree(xray, run.id);
      expect(detail).toMatchObject({ status: 'success', output: { done: true } });
      expect(detail.steps.map((s) => s.id)).toEqual(stepIds);
      let cut = 0;
      for (const s of detail.steps) {
        expect(s).toMatchObject({
          status: 'success',
          candidatesIn: 100,
          candidatesOut: 25,
          metadata: { region: 'eu', xray: { total: 100, out: 25, stored: 100 } },
        });
        expect(s.children.map((c) => [c.name, c.status])).toEqual([['price-rule', 'success']]);
        // The tree's metadata is a preview: an object while it is small, as here.
        const dropped = (s.metadata as { xray: { candidatesDropped?: number } }).xray.candidatesDropped ?? 0;
        // What the server stores is what was sent less what the buffer cut.
        expect(s.candidatesStored).toBe(100 - dropped);
        cut += dropped;
      }
      expect(cut).toBe(full.candidatesDropped);
      const [{ candidates }] = await t.sql<{ candidates: number }>('SELECT count(*)::int AS candidates FROM candidates WHERE run_id = $1', [run.id]);
      expect(candidates).toBe(12 * 100 - cut);
    });

    it('resends a batch whose answer was lost, and the server applies it only once', async () => {
      await startProxy();
      loseAnswers = 2;
      const xray = client({ baseUrl: `http://127.0.0.1:${proxyPort}`, maxBatchEvents: 50 });
      const run = await pipeline(xray, 'sdk-lost-answers');
      expect(await xray.flush({ timeoutMs: 30_000 })).toBe(true);
      expect(loseAnswers).toBe(0);
      const stats = xray.stats();
      expect(forwarded).toBe(stats.batches);
      expect(stats.retries).toBeGreaterThanOrEqual(2);
      await expectLandedOnce(xray, run.id);
    });
  });
});
