import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { exportOverHttp } from '../src/export/transfer.js';
import { RunTimeoutSweeper } from '../src/maintenance/run-timeout.sweeper.js';
import { createTestApp, expectError, type TestApp, usingRealPostgres } from './harness.js';

/**
 * Moving a project from the embedded default to a team server: data created through the API on
 * an embedded instance, exported over HTTP, imported into PostgreSQL (a second embedded
 * instance when DATABASE_URL is unset), and compared field by field: the export itself, every
 * run, step and candidate as the API answers them, and the pipeline analytics.
 */
type Line = Record<string, unknown> & { type: string };

const T0 = Date.parse('2026-11-20T08:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const parse = (text: string): Line[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

describe('export and import (GET /v1/export, POST /v1/import)', () => {
  let source: TestApp;
  let target: TestApp;
  let sourceKey: string;
  let otherKey: string;
  let targetKey: string;
  let exported: string;
  const pipeline = `moving-${randomUUID().slice(0, 8)}`;
  const runs: Record<string, string> = { done: randomUUID(), failed: randomUUID(), running: randomUUID(), timedOut: randomUUID(), otherPipeline: randomUUID() };
  const steps = Array.from({ length: 6 }, () => randomUUID());

  const get = (t: TestApp, key: string, path: string) => request(t.http).get(path).set('Authorization', `Bearer ${key}`);
  const exportText = async (t: TestApp, key: string, query = '') => {
    const res = await get(t, key, `/v1/export${query}`)
      .buffer(true)
      .parse((r, cb) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => cb(null, text));
      });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    return res.body as string;
  };
  const importText = (t: TestApp, key: string, body: string) =>
    request(t.http).post('/v1/import').set('Authorization', `Bearer ${key}`).set('Content-Type', 'application/x-ndjson').send(body);

  beforeAll(async () => {
    source = await createTestApp({ XRAY_RUN_TIMEOUT: '1h' }, { embedded: true });
    target = await createTestApp();
    sourceKey = (await source.newProject('moving')).key;
    otherKey = (await source.newProject('neighbour')).key;
    targetKey = (await target.newProject('team')).key;

    const ev = (type: string, body: Record<string, unknown>, timestamp?: string) => ({ id: randomUUID(), type, body, ...(timestamp ? { timestamp } : {}) });
    const [search, filter, rule, rank, laterSibling, failing] = steps;
    const candidates = Array.from({ length: 2500 }, (_, i) => ({
      key: `sku-${String(i).padStart(5, '0')}`,
      decision: i % 10 === 0 ? 'selected' : i % 3 === 0 ? 'accepted' : 'rejected',
      ...(i % 3 ? { reason: i % 2 ? 'price above $50' : 'out of stock' } : {}),
      ...(i % 5 === 0 ? { score: i / 2500, rank: i + 1 } : {}),
      ...(i % 7 === 0 ? { evaluations: [{ check: 'price', passed: i % 2 === 0, detail: `$${i % 100} vs $50` }] } : {}),
      ...(i % 4 === 0 ? { data: { title: `item ${i}`, price: i % 100, tags: ['a', 'b'] } } : {}),
    }));
    const events = [
      ev('run-create', {
        id: runs.done,
        pipeline,
        pipelineVersion: '2026.11.3',
        input: { title: 'laptop stand', maxPrice: 50 },
        metadata: { customer: 'acme', nested: { region: 'eu' } },
        tags: ['nightly', 'eu'],
        startedAt: at(0),
      }),
      ev('step-create', { id: search, runId: runs.done, name: 'search', type: 'retrieval', input: { q: 'stand' }, startedAt: at(100) }),
      ev('step-update', { id: search, status: 'success', output: { hits: 2500 }, endedAt: at(400) }),
      // Created before its earlier-starting sibling: positions follow creation, not start times.
      ev('step-create', { id: laterSibling, runId: runs.done, name: 'dedupe', type: 'transform', startedAt: at(900) }),
      ev('step-create', { id: filter, runId: runs.done, name: 'filter-by-price', type: 'filter', metadata: { rule: 'price <= 50' }, startedAt: at(500) }),
      // A child that starts before its parent (clock skew): the export still writes the parent first.
      ev('step-create', { id: rule, runId: runs.done, parentStepId: filter, name: 'price-rule', type: 'custom', startedAt: at(450) }),
      ev('step-update', { id: rule, status: 'success', reasoning: 'threshold from input', endedAt: at(480) }),
      ev('candidates-create', { stepId: filter, candidates }),
      ev('step-update', { id: filter, status: 'success', reasoning: 'kept items under $50', output: { kept: 'many' }, endedAt: at(800) }),
      ev('step-create', { id: rank, runId: runs.done, parentStepId: filter, name: 'rank', type: 'rank', startedAt: at(810) }),
      ev('step-update', { id: rank, status: 'success', candidatesIn: 5000, candidatesOut: 12, metadata: { sampled: true }, endedAt: at(850) }),
      ev('step-update', { id: laterSibling, status: 'cancelled', endedAt: at(950) }),
      ev('run-update', { id: runs.done, status: 'success', output: { selected: 'sku-00000' }, metadata: { reviewed: false }, endedAt: at(1000) }),

      ev('run-create', { id: runs.failed, pipeline, input: 'plain text input', startedAt: at(2000) }),
      ev('step-create', { id: failing, runId: runs.failed, name: 'search', type: 'retrieval', startedAt: at(2100) }),
      ev('step-update', {
        id: failing,
        status: 'error',
        error: { type: 'TimeoutError', message: 'search API did not answer', stack: 'TimeoutError\n    at search' },
        endedAt: at(2600),
      }),
      ev('run-update', { id: runs.failed, status: 'error', error: { type: 'TimeoutError', message: 'search failed' }, endedAt: at(2700) }),

      // Still running, and recent: the sweep below leaves it alone.
      ev('run-create', { id: runs.running, pipeline, startedAt: new Date(Date.now() - 60_000).toISOString(), tags: [] }),
      ev('run-create', { id: runs.timedOut, pipeline, startedAt: at(4000) }),
      ev('run-create', { id: runs.otherPipeline, pipeline: `${pipeline}-other`, status: 'cancelled', startedAt: at(5000), metadata: { a: 1 } }),
    ];
    const res = await request(source.http).post('/v1/ingest').set('Authorization', `Bearer ${sourceKey}`).send({ events });
    expect(res.status).toBe(207);
    expect(res.body.results.filter((r: { status: number }) => r.status >= 300)).toEqual([]);
    // The sweep marks the run that never ended as timed_out (XRAY_RUN_TIMEOUT 1h; it started days ago).
    expect(await source.app.get(RunTimeoutSweeper).sweepOnce()).toMatchObject({ runs: 1 });
    await request(source.http)
      .post('/v1/ingest')
      .set('Authorization', `Bearer ${otherKey}`)
      .send({ events: [ev('run-create', { id: randomUUID(), pipeline, startedAt: at(10) })] })
      .expect(207);

    exported = await exportText(source, sourceKey);
  }, 120_000);
  afterAll(async () => {
    await source?.close();
    await target?.close();
  });

  it('writes each run, its steps (parents first) and their candidates in chunks, with a cursor after each run and totals at the end', () => {
    const lines = parse(exported);
    expect(lines.filter((l) => l.type === 'run').map((l) => (l.run as { id: string }).id)).toEqual([
      runs.done,
      runs.failed,
      runs.timedOut,
      runs.otherPipeline,
      runs.running,
    ]);
    const firstRun = lines.slice(0, lines.findIndex((l) => l.type === 'run-end') + 1);
    const stepIds = firstRun.filter((l) => l.type === 'step').map((l) => (l.step as { id: string }).id);
    const [search, filter, rule, rank, laterSibling] = steps;
    expect(stepIds).toEqual([search, filter, rule, rank, laterSibling]);
    const chunks = firstRun.filter((l) => l.type === 'candidates').map((l) => (l.candidates as unknown[]).length);
    expect(chunks).toEqual([1000, 1000, 500]);
    expect(firstRun[firstRun.length - 1]).toEqual({ type: 'run-end', runId: runs.done, steps: 5, candidates: 2500, cursor: expect.any(String) });
    expect(lines[lines.length - 1]).toEqual({ type: 'end', runs: 5, steps: 6, candidates: 2500, nextCursor: null });
    const timedOut = lines.find((l) => l.type === 'run' && (l.run as { id: string }).id === runs.timedOut)!.run;
    expect(timedOut).toMatchObject({ status: 'timed_out', endedAt: expect.any(String) });
  });

  it(`imports into ${usingRealPostgres() ? 'PostgreSQL' : 'a second embedded instance'} exactly: the same export, runs, steps, candidates and analytics`, async () => {
    const res = await importText(target, targetKey, exported);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ runs: 5, steps: 6, candidates: 2500 });

    expect(await exportText(target, targetKey)).toBe(exported);
    const strip = ({ createdAt: _c, updatedAt: _u, ...rest }: Record<string, unknown>) => rest;
    for (const id of Object.values(runs)) {
      const [a, b] = await Promise.all([get(source, sourceKey, `/v1/runs/${id}`), get(target, targetKey, `/v1/runs/${id}`)]);
      expect(b.status).toBe(200);
      expect(strip(b.body)).toEqual(strip(a.body));
    }
    for (const id of steps) {
      const [a, b] = await Promise.all([get(source, sourceKey, `/v1/steps/${id}`), get(target, targetKey, `/v1/steps/${id}`)]);
      expect(b.body).toEqual(a.body);
      const page = (t: TestApp, key: string) => get(t, key, `/v1/steps/${id}/candidates?limit=500`);
      const [ca, cb] = await Promise.all([page(source, sourceKey), page(target, targetKey)]);
      const byKey = (items: { key: string; id?: unknown }[]) => items.map(({ id: _id, ...c }) => c).sort((x, y) => x.key.localeCompare(y.key));
      expect(byKey(cb.body.items)).toEqual(byKey(ca.body.items));
      const summary = (t: TestApp, key: string) => get(t, key, `/v1/steps/${id}/candidates/summary`);
      expect((await summary(target, targetKey)).body).toEqual((await summary(source, sourceKey)).body);
    }
    const range = `from=${at(-86_400_000)}&to=${new Date(Date.now() + 86_400_000).toISOString()}`;
    for (const p of [pipeline, `${pipeline}-other`]) {
      const path = `/v1/analytics/pipelines/${p}?${range}`;
      const [a, b] = await Promise.all([get(source, sourceKey, path), get(target, targetKey, path)]);
      expect(a.status).toBe(200);
      expect(b.body).toEqual(a.body);
    }
  });

  it('importing the same file again changes nothing', async () => {
    const snapshot = () =>
      target.sql(
        `SELECT 'run' AS kind, id::text, updated_at::text AS version FROM runs UNION ALL SELECT 'step', id::text, updated_at::text FROM steps
         UNION ALL SELECT 'candidate', step_id::text || key, md5(c::text) FROM candidates c ORDER BY 1, 2`,
      );
    const before = await snapshot();
    const res = await importText(target, targetKey, exported);
    expect(res.status).toBe(200);
    expect(await snapshot()).toEqual(before);
    expect(await exportText(target, targetKey)).toBe(exported);
  });

  it('imports into another project of the same database with the same ids (ids are per project)', async () => {
    const sibling = (await source.newProject('sibling')).key;
    const res = await importText(source, sibling, exported);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ runs: 5, steps: 6, candidates: 2500 });
    expect(await exportText(source, sibling)).toBe(exported);
    // The original project is untouched.
    expect(await exportText(source, sourceKey)).toBe(exported);
  });

  it("exports only the caller's own runs, filtered by pipeline and time", async () => {
    const other = parse(await exportText(source, otherKey));
    expect(other.filter((l) => l.type === 'run')).toHaveLength(1);
    expect(other.some((l) => l.type === 'run' && Object.values(runs).includes((l.run as { id: string }).id))).toBe(false);
    // A cursor of another project's export is only a position in time: after it, this project has no runs.
    const cursor = parse(exported).findLast((l) => l.type === 'run-end')!.cursor as string;
    const stranger = parse(await exportText(source, otherKey, `?cursor=${cursor}`));
    expect(stranger).toEqual([{ type: 'end', runs: 0, steps: 0, candidates: 0, nextCursor: null }]);

    const filtered = parse(await exportText(source, sourceKey, `?pipeline=${pipeline}&from=${at(1500)}&to=${at(4001)}`));
    expect(filtered.filter((l) => l.type === 'run').map((l) => (l.run as { id: string }).id)).toEqual([runs.failed, runs.timedOut]);
  });

  it('resumes after a run from its cursor with exactly the rest, and pages with limit', async () => {
    const all = parse(exported);
    const firstEnd = all.findIndex((l) => l.type === 'run-end');
    const rest = parse(await exportText(source, sourceKey, `?cursor=${all[firstEnd].cursor as string}`));
    expect(rest.slice(0, -1)).toEqual(all.slice(firstEnd + 1, -1));
    expect(rest[rest.length - 1]).toEqual({ type: 'end', runs: 4, steps: 1, candidates: 0, nextCursor: null });

    const first = parse(await exportText(source, sourceKey, '?limit=1'));
    expect(first.slice(0, -1)).toEqual(all.slice(0, firstEnd + 1));
    expect(first[first.length - 1]).toEqual({ type: 'end', runs: 1, steps: 5, candidates: 2500, nextCursor: all[firstEnd].cursor as string });
    const last = parse(await exportText(source, sourceKey, `?limit=4&cursor=${all[firstEnd].cursor as string}`));
    expect(last[last.length - 1]).toMatchObject({ runs: 4, nextCursor: null });
  });

  it('xray export --url takes a lost connection up again after the last complete run', async () => {
    await source.app.listen(0, '127.0.0.1');
    const port = (source.app.getHttpServer().address() as AddressInfo).port;
    // A proxy that cuts the first answer off just after the first run (in the second run's lines).
    const cutAt = Buffer.byteLength(exported.slice(0, exported.indexOf('{"type":"run-end"'))) + 300;
    const asked: string[] = [];
    const proxy = createServer((req, res) => {
      const cut = asked.push(req.url!) === 1;
      const upstream = httpRequest({ port, host: '127.0.0.1', path: req.url, headers: req.headers, agent: false }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (!cut) return void res.write(chunk);
          const room = cutAt - sent;
          sent += chunk.length;
          if (room <= 0) return;
          if (chunk.length < room) return void res.write(chunk);
          up.destroy();
          res.write(chunk.subarray(0, room), () => res.destroy());
        });
        up.on('end', () => res.end());
      });
      upstream.end();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'xray-export-'));
    try {
      const file = join(dir, 'resumed.ndjson');
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const done = await exportOverHttp({ url, key: sourceKey }, {}, file, () => undefined);
      expect(asked).toHaveLength(2);
      expect(asked[1]).toBe(`/v1/export?cursor=${parse(exported).find((l) => l.type === 'run-end')!.cursor as string}`);
      expect(done).toEqual({ runs: 5, steps: 6, candidates: 2500 });
      expect(readFileSync(file, 'utf8')).toBe(exported);
    } finally {
      proxy.close();
      proxy.closeAllConnections();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers a bad cursor, time or limit with a 400 in the error shape, before any line', async () => {
    for (const query of ['?cursor=not-a-cursor', `?cursor=${Buffer.from('["x","y"]').toString('base64url')}`]) {
      expectError(await get(source, sourceKey, `/v1/export${query}`), 400, 'INVALID_CURSOR');
    }
    for (const query of ['?from=yesterday', '?to=2026-02-30T00:00:00Z', '?limit=0', '?bogus=1']) {
      expectError(await get(source, sourceKey, `/v1/export${query}`), 400, 'VALIDATION_FAILED');
    }
  });

  it('refuses a bad import line with a 400 naming it, another media type with a 415, and keys without the scope', async () => {
    const runLine = parse(exported)[0];
    const bad = [
      ['{"type":"run"', /line 1: not valid JSON/],
      [JSON.stringify({ type: 'step', step: parse(exported)[1].step }), /line 1: a step must follow the `run` line/],
      [`${JSON.stringify({ ...runLine, run: { ...(runLine.run as object), status: 'finished' } })}`, /line 1: run.status: status must be one of/],
      [`${JSON.stringify(runLine)}\n{"type":"sparkle"}`, /line 2: type must be one of/],
      ['{"type":"constructor"}', /line 1: type must be one of/],
      ['{"type":"end","runs":0,"extra":true}', /line 1: property extra should not exist/],
    ] as const;
    for (const [body, message] of bad) {
      const res = await importText(target, targetKey, body);
      expectError(res, 400, 'INVALID_IMPORT_LINE');
      expect(res.body.message).toMatch(message);
    }
    const json = await request(target.http).post('/v1/import').set('Authorization', `Bearer ${targetKey}`).send({ type: 'end' });
    expectError(json, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const readKey = (
      await request(target.http)
        .post('/v1/api-keys')
        .set('Authorization', `Bearer ${targetKey}`)
        .send({ name: 'reader', scopes: ['read'] })
        .expect(201)
    ).body.key as string;
    expectError(await importText(target, readKey, exported), 403);
  });
});
