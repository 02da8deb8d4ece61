import { jest } from '@jest/globals';
import { acceptAll, fast, FakeIngest, freePort, withFakeIngest, type WireEvent } from '../test/fake-ingest.js';
import { configureApi, XrayClient } from './client.js';
import type { XrayError } from './errors.js';
import { isUuidV7 } from './uuid.js';

const ofType = (events: WireEvent[], type: string) => events.filter((e) => e.type === type);

describe('XrayClient against a fake ingest endpoint', () => {
  let server: FakeIngest;
  let xray: XrayClient;
  let errors: XrayError[];

  withFakeIngest((setup) => ({ server, xray, errors } = setup));

  it('records the quick start: a run, nested steps, candidates and statuses, in causal order', async () => {
    const run = await xray.startRun({ pipeline: 'competitor-selection', input: { title: 'stand' }, metadata: { env: 'test' }, tags: ['nightly'] });
    const items = [
      { key: 'A', decision: 'accepted' as const, score: 0.9 },
      { key: 'B', decision: 'rejected' as const, reason: 'price above $50', data: { price: 89 } },
    ];
    const value = await run.step(
      'filter-by-price',
      async (step) => {
        step.candidates(items);
        await step.step('price-rule', async (child) => child.complete({ output: { rule: '<= 50' } }), { type: 'custom' });
        step.complete({ output: { kept: 1 }, reasoning: 'kept items under $50' });
        return 42;
      },
      { type: 'filter', input: { maxPrice: 50 } },
    );
    expect(value).toBe(42);
    await run.complete({ status: 'success', output: { selected: 'A' } });
    expect(await xray.flush()).toBe(true);

    const events = server.events;
    expect(events.map((e) => e.type)).toEqual(['run-create', 'step-create', 'candidates-create', 'step-create', 'step-update', 'step-update', 'run-update']);
    expect(events.every((e) => isUuidV7(e.id))).toBe(true);
    const [runCreate, stepCreate, cands, childCreate, childUpdate, stepUpdate, runUpdate] = events;
    expect(isUuidV7(run.id)).toBe(true);
    expect(runCreate.body).toMatchObject({
      id: run.id,
      pipeline: 'competitor-selection',
      input: { title: 'stand' },
      metadata: { env: 'test' },
      tags: ['nightly'],
    });
    expect(stepCreate.body).toMatchObject({ runId: run.id, name: 'filter-by-price', type: 'filter', input: { maxPrice: 50 } });
    expect(stepCreate.body.parentStepId).toBeUndefined();
    expect(cands.body).toEqual({ stepId: stepCreate.body.id, candidates: [items[0], items[1]] });
    expect(childCreate.body).toMatchObject({ runId: run.id, parentStepId: stepCreate.body.id, name: 'price-rule' });
    expect(childUpdate.body).toMatchObject({ id: childCreate.body.id, status: 'success', output: { rule: '<= 50' } });
    expect(stepUpdate.body).toMatchObject({
      id: stepCreate.body.id,
      status: 'success',
      reasoning: 'kept items under $50',
      candidatesIn: 2,
      candidatesOut: 1,
      metadata: { xray: { capture: 'all', total: 2, out: 1, stored: 2, reasons: { 'price above $50': 1 } } },
    });
    expect(runUpdate.body).toMatchObject({ id: run.id, status: 'success', output: { selected: 'A' } });
    expect(Date.parse(runUpdate.body.endedAt as string)).toBeGreaterThanOrEqual(Date.parse(runCreate.body.startedAt as string));
    expect(errors).toEqual([]);
  });

  it('rethrows the error a step throws, unchanged, and records it on the step and the run', async () => {
    class PriceError extends Error {}
    const thrown = new PriceError('no prices');
    const run = await xray.startRun({ pipeline: 'p' });
    let caught: unknown;
    try {
      await run.step('outer', (step) =>
        step.step('inner', () => {
          throw thrown;
        }),
      );
    } catch (err) {
      caught = err;
      await run.fail(err);
    }
    expect(caught).toBe(thrown);
    await xray.flush();
    const updates = ofType(server.events, 'step-update');
    expect(updates).toHaveLength(2);
    for (const u of updates) expect(u.body).toMatchObject({ status: 'error', error: { type: 'PriceError', message: 'no prices' } });
    expect((updates[0].body.error as { stack: string }).stack).toContain('no prices');
    expect(ofType(server.events, 'run-update')[0].body).toMatchObject({ status: 'error', error: { type: 'PriceError', message: 'no prices' } });
  });

  it('sends ended steps once, lets a manual step be failed, and records a non-Error throw', async () => {
    const run = await xray.startRun({ pipeline: 'p' });
    const s = run.startStep('manual', { type: 'tool' });
    s.complete({ output: 1 });
    s.complete({ output: 2 });
    await expect(run.step('string-throw', () => Promise.reject('just a string'))).rejects.toBe('just a string');
    await run.complete();
    await run.complete({ output: 'again' });
    await xray.flush();
    const updates = ofType(server.events, 'step-update');
    expect(updates.map((u) => u.body.status)).toEqual(['success', 'error']);
    expect(updates[1].body.error).toEqual({ type: 'NonError', message: 'just a string' });
    expect(ofType(server.events, 'run-update')).toHaveLength(1);
  });

  it('samples candidates but records exact totals and the full reason histogram', async () => {
    const run = await xray.startRun({ pipeline: 'p' });
    const list = Array.from({ length: 3_000 }, (_, i) => ({
      key: `k${i}`,
      decision: i % 100 === 0 ? ('accepted' as const) : ('rejected' as const),
      reason: i % 100 === 0 ? undefined : `r${i % 4}`,
    }));
    await run.step('filter', (step) => {
      const r = step.candidates(list, { capture: 'sample', samplePerReason: 25 });
      expect(r).toEqual({ capture: 'sample', total: 3000, out: 30, stored: 30 + 4 * 25 });
    });
    await xray.flush();
    const stored = ofType(server.events, 'candidates-create').flatMap((e) => e.body.candidates as unknown[]);
    expect(stored).toHaveLength(130);
    const update = ofType(server.events, 'step-update')[0].body;
    expect(update).toMatchObject({
      candidatesIn: 3000,
      candidatesOut: 30,
      metadata: { xray: { capture: 'sample', samplePerReason: 25, total: 3000, stored: 130 } },
    });
    const reasons = (update.metadata as { xray: { reasons: Record<string, number> } }).xray.reasons;
    expect(Object.values(reasons).reduce((a, b) => a + b, 0)).toBe(2970);
    expect(Object.keys(reasons).sort()).toEqual(['r0', 'r1', 'r2', 'r3']);
  });

  it('splits large candidate lists into events and records capture none without sending any', async () => {
    const small = new XrayClient({ baseUrl: server.url, apiKey: 'k', candidatesPerEvent: 400, ...fast });
    const run = await small.startRun({ pipeline: 'p' });
    const list = Array.from({ length: 1_000 }, (_, i) => ({ key: i, decision: 'accepted' as const }));
    await run.step('all', (s) => void s.candidates(list));
    await run.step('none', (s) => void s.candidates(list, { capture: 'none' }));
    await small.shutdown({ timeoutMs: 5_000 });
    const chunks = ofType(server.events, 'candidates-create');
    expect(chunks.map((c) => (c.body.candidates as unknown[]).length)).toEqual([400, 400, 200]);
    expect((chunks[0].body.candidates as { key: unknown }[])[0].key).toBe('0');
    const none = ofType(server.events, 'step-update')[1].body;
    expect(none).toMatchObject({ candidatesIn: 1000, candidatesOut: 1000, metadata: { xray: { capture: 'none', stored: 0 } } });
  });

  it('passes inputs, outputs and candidate data through mask; a throwing mask sends a marker, not the value', async () => {
    const masked = new XrayClient({
      baseUrl: server.url,
      apiKey: 'k',
      ...fast,
      onError: (e) => errors.push(e),
      mask: (value, ctx) => {
        if (ctx.field === 'data' && ctx.key === 'boom') throw new Error('mask bug');
        return JSON.parse(JSON.stringify(value).replace(/secret-\w+/g, '[redacted]'));
      },
    });
    const run = await masked.startRun({ pipeline: 'p', input: { token: 'secret-abc' } });
    await run.step(
      's',
      (step) => {
        step.candidates([
          { key: 'x', decision: 'accepted', data: { email: 'secret-mail' } },
          { key: 'boom', decision: 'rejected', data: { email: 'secret-kept' } },
        ]);
        step.complete({ output: 'secret-out' });
      },
      { input: ['secret-in'] },
    );
    await masked.shutdown({ timeoutMs: 5_000 });
    const text = JSON.stringify(server.events);
    expect(text).not.toContain('secret-');
    expect(text).toContain('[xray: mask failed]');
    expect(errors.some((e) => e.kind === 'mask')).toBe(true);
  });

  it('never throws into the host: a throwing onError, unserializable values, bad input', async () => {
    const wild = new XrayClient({
      baseUrl: server.url,
      apiKey: 'k',
      ...fast,
      onError: () => {
        throw new Error('hook bug');
      },
    });
    const cyclic: Record<string, unknown> = { big: 1n };
    cyclic.self = cyclic;
    const run = await wild.startRun({ pipeline: 'p', input: cyclic });
    await run.step('s', (step) => {
      step.candidates('nope' as never);
      step.candidates([{ key: 'ok', decision: 'accepted' }, { decision: 'maybe' } as never]);
    });
    await run.complete({ output: cyclic });
    expect(await wild.flush()).toBe(true);
    await wild.shutdown();
    const created = ofType(server.events, 'run-create')[0];
    expect(created.body.input).toEqual({ big: '1', self: '[Circular]' });
    expect(ofType(server.events, 'candidates-create')[0].body.candidates).toEqual([{ key: 'ok', decision: 'accepted' }]);
  });

  it('makes fields the server would refuse acceptable, so one bad field does not lose a run or a batch', async () => {
    const run = await xray.startRun({
      pipeline: '',
      tags: ['ok', 7 as never, 'x'.repeat(150), ...Array.from({ length: 60 }, (_, i) => `t${i}`)],
      metadata: 'nope' as never,
    });
    await run.step(
      '',
      (step) => {
        step.candidates([
          {
            key: 'a',
            decision: 'accepted',
            evaluations: [{ check: 'price', passed: true }, { check: '', passed: true }, { check: 'x', passed: 'yes' as never }, null as never],
          },
          { key: 'k'.repeat(501), decision: 'accepted' },
          { key: 3, decision: 'rejected', reason: 'r'.repeat(3000) },
        ]);
      },
      { type: 'magic' as never },
    );
    await xray.flush();
    const created = ofType(server.events, 'run-create')[0].body;
    expect(created.pipeline).toBe('unnamed');
    expect(created.metadata).toBeUndefined();
    const tags = created.tags as string[];
    expect(tags).toHaveLength(50);
    expect(tags.every((t) => t.length <= 100)).toBe(true);
    const step = ofType(server.events, 'step-create')[0].body;
    expect(step).toMatchObject({ name: 'unnamed', type: 'custom' });
    const [a, three] = ofType(server.events, 'candidates-create')[0].body.candidates as { key: string; reason?: string; evaluations?: unknown[] }[];
    expect(a.evaluations).toEqual([{ check: 'price', passed: true }]);
    expect(three.key).toBe('3');
    expect(three.reason!.length).toBeLessThanOrEqual(2000);
    expect(errors.map((e) => e.kind).sort()).toEqual(['usage', 'usage', 'usage']);
  });

  it('keeps runs and steps when its buffer overflows, and records on each step how many of its candidates were cut', async () => {
    let open = false;
    server.reply = (events) => (open ? acceptAll(events) : { status: 503, body: {} });
    const small = new XrayClient({ baseUrl: server.url, apiKey: 'k', ...fast, maxBufferEvents: 40, candidatesPerEvent: 10, onError: (e) => errors.push(e) });
    const run = await small.startRun({ pipeline: 'competitor-selection' });
    for (let s = 0; s < 10; s++) {
      await run.step(
        `filter-${s}`,
        (step) => {
          step.candidates(
            Array.from({ length: 100 }, (_, i) => ({
              key: `B0${s}-${i}`,
              decision: i < 30 ? ('accepted' as const) : ('rejected' as const),
              reason: i < 30 ? undefined : 'price above $50',
            })),
          );
        },
        { type: 'filter', metadata: { region: 'eu' } },
      );
    }
    await run.complete();
    const full = small.stats();
    expect(full.droppedByKind).toMatchObject({ runs: 0, steps: 0 });
    expect(full.droppedByKind.candidates).toBeGreaterThan(0);
    expect(errors.filter((e) => e.kind === 'dropped')).toHaveLength(1);
    open = true;
    expect(await small.flush({ timeoutMs: 10_000 })).toBe(true);

    const events = server.events;
    expect(ofType(events, 'run-create')).toHaveLength(1);
    expect(ofType(events, 'run-update')).toHaveLength(1);
    const steps = ofType(events, 'step-create');
    expect(steps).toHaveLength(10);
    let cut = 0;
    for (const step of steps) {
      const id = step.body.id as string;
      const arrived = ofType(events, 'candidates-create')
        .filter((e) => e.body.stepId === id)
        .flatMap((e) => e.body.candidates as unknown[]).length;
      // The last update of the step is what the server ends with (metadata merges key by key).
      const last = ofType(events, 'step-update')
        .filter((e) => e.body.id === id)
        .at(-1)!.body;
      expect(last).toMatchObject({ candidatesIn: 100, candidatesOut: 30, metadata: { xray: { total: 100, out: 30, stored: 100 } } });
      const dropped = (last.metadata as { xray: { candidatesDropped?: number } }).xray.candidatesDropped ?? 0;
      expect(dropped).toBe(100 - arrived);
      cut += dropped;
    }
    // Steps that had ended when their candidates were cut sent a note (a step-update) afterwards.
    expect(ofType(events, 'step-update').length).toBeGreaterThan(steps.length);
    expect(cut).toBe(full.candidatesDropped);
    expect(cut).toBeGreaterThan(0);
    expect(small.stats()).toMatchObject({ rejected: 0, queued: 0 });
    await small.shutdown();
  });

  it('is disabled, loudly but harmlessly, without a key', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const seen: XrayError[] = [];
    const off = new XrayClient({ baseUrl: server.url, apiKey: '', onError: (e) => seen.push(e) });
    const run = await off.startRun({ pipeline: 'p' });
    expect(await run.step('s', () => 'still runs')).toBe('still runs');
    await run.complete();
    expect(await off.flush()).toBe(true);
    expect(await off.shutdown()).toEqual({ drained: true, unsent: 0 });
    expect(server.requests).toHaveLength(0);
    expect(seen[0]?.kind).toBe('usage');
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it('returns from shutdown by its deadline when the server is down, and counts what is unsent', async () => {
    const dead = new XrayClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: 'k', ...fast });
    const run = await dead.startRun({ pipeline: 'p' });
    for (let i = 0; i < 100; i++) await run.step(`s${i}`, () => i);
    const started = Date.now();
    const result = await dead.shutdown({ timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.drained).toBe(false);
    expect(dead.stats()).toMatchObject({ unsent: result.unsent, queued: 0 });
    expect(result.unsent).toBe(201);
  });

  it('logs what it does through debug, and flushes by itself when the process is about to exit', async () => {
    const lines: string[] = [];
    const logged = new XrayClient({ baseUrl: server.url, apiKey: 'k', flushIntervalMs: 60_000, debug: (m) => lines.push(m) });
    const run = await logged.startRun({ pipeline: 'p' });
    await run.complete();
    expect(server.events).toHaveLength(0);
    process.emit('beforeExit', 0);
    for (let i = 0; i < 300 && server.events.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.events.map((e) => e.type)).toEqual(['run-create', 'run-update']);
    expect(lines.some((l) => l.includes('process exiting'))).toBe(true);
    expect(await logged.shutdown()).toEqual({ drained: true, unsent: 0 });
  });

  it('configureApi sets the key once for the generated functions used without a client', async () => {
    const seen: (string | null)[] = [];
    const spy: typeof fetch = async (input) => {
      seen.push((input as Request).headers.get('authorization'));
      return new Response(JSON.stringify({ status: 'ok', database: 'up' }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    configureApi({ baseUrl: 'http://xray.invalid', apiKey: 'xr_default', fetch: spy });
    const { getHealth, listProjects } = await import('./generated/sdk.gen.js');
    expect((await getHealth()).data).toEqual({ status: 'ok', database: 'up' });
    await listProjects();
    expect(seen).toEqual(['Bearer xr_default', 'Bearer xr_default']);
  });

  it('exposes the generated API client with the key set once', async () => {
    const requests: { url: string; auth: string | null }[] = [];
    const spy: typeof fetch = async (input) => {
      const req = input as Request;
      requests.push({ url: req.url, auth: req.headers.get('authorization') });
      return new Response(JSON.stringify({ items: [], nextCursor: null }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const withSpy = new XrayClient({ baseUrl: 'http://xray.invalid/', apiKey: 'xr_once', fetch: spy, exitFlushTimeoutMs: 0 });
    const { listRuns } = await import('./generated/sdk.gen.js');
    const res = await listRuns({ client: withSpy.api, query: { pipeline: 'p', limit: 5 } });
    expect(res.data).toEqual({ items: [], nextCursor: null });
    expect(requests).toEqual([{ url: 'http://xray.invalid/v1/runs?pipeline=p&limit=5', auth: 'Bearer xr_once' }]);
    await withSpy.shutdown();
  });
});
