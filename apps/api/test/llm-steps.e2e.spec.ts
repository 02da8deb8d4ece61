import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

/**
 * LLM steps: the model, provider, parameters, token usage, cost and time to first token of a
 * step through every write path (REST create and update, batch ingest grouped, folded and in
 * order), the runs' totals kept exact through replays and changes, costs computed from the
 * project's model prices (and kept when the prices change), and the run listing's cost and
 * token filters and sorts.
 */
describe('LLM steps, model prices and run totals', () => {
  let t: TestApp;
  let key: string;
  let projectId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const pipeline = `llm-${randomUUID().slice(0, 8)}`;

  const newRun = async (extra: Record<string, unknown> = {}) => {
    const res = await request(t.http)
      .post('/v1/runs')
      .set(auth())
      .send({ pipeline, ...extra });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const getRun = async (id: string) => (await request(t.http).get(`/v1/runs/${id}`).set(auth())).body;
  const getStep = async (id: string) => (await request(t.http).get(`/v1/steps/${id}`).set(auth())).body;
  const ingest = async (events: { id?: string; type: string; body: Record<string, unknown> }[], headers = auth()) => {
    const res = await request(t.http)
      .post('/v1/ingest')
      .set(headers)
      .send({ events: events.map((e) => ({ id: e.id ?? randomUUID(), type: e.type, body: e.body })) });
    expect(res.status).toBe(207);
    expect(res.body.results.filter((r: { status: number }) => r.status >= 300)).toEqual([]);
    return res.body.results as { status: number }[];
  };
  /** Run totals recomputed from the steps, beside the stored ones. */
  const totalsCheck = async () => {
    const rows = await t.sql<{ id: string; stored: string; raw: string }>(
      `SELECT r.id, concat_ws('/', r.total_input_tokens, r.total_output_tokens, r.total_tokens, r.total_cost_usd::numeric) AS stored,
              concat_ws('/', coalesce(sum(s.usage_input), 0), coalesce(sum(s.usage_output), 0), coalesce(sum(s.usage_total), 0),
                        coalesce(sum(s.cost_usd), 0)::numeric) AS raw
       FROM runs r LEFT JOIN steps s ON s.project_id = r.project_id AND s.run_id = r.id
       WHERE r.project_id = $1 GROUP BY r.project_id, r.id`,
      [projectId],
    );
    const norm = (v: string) => v.split('/').map(Number).join('/');
    return rows.filter((r) => norm(r.stored) !== norm(r.raw));
  };

  beforeAll(async () => {
    t = await createTestApp();
    ({ id: projectId, key } = await t.newProject('llm'));
  });
  afterAll(async () => t?.close());

  it('stores every LLM field through REST create and answers it on getStep, the step tree, listRunSteps and searchSteps', async () => {
    const runId = await newRun();
    const created = await request(t.http)
      .post(`/v1/runs/${runId}/steps`)
      .set(auth())
      .send({
        name: 'answer',
        type: 'llm',
        model: 'gpt-4o-mini-2024-07-18',
        provider: 'openai',
        modelParameters: { temperature: 0.2, maxTokens: 512 },
        usage: { input: 1200, output: 340, cacheRead: 1024, reasoning: 12 },
        costUsd: 0.00042,
        timeToFirstTokenMs: 180.5,
      });
    expect(created.status).toBe(201);
    const expected = {
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      modelParameters: { temperature: 0.2, maxTokens: 512 },
      usage: { input: 1200, output: 340, total: 1540, cacheRead: 1024, cacheWrite: null, reasoning: 12 },
      costUsd: 0.00042,
      costSource: 'client',
      costPrice: null,
      timeToFirstTokenMs: 180.5,
    };
    expect(created.body).toMatchObject(expected);
    expect(await getStep(created.body.id)).toMatchObject(expected);
    const run = await getRun(runId);
    expect(run.steps[0]).toMatchObject(expected);
    expect(run).toMatchObject({ inputTokens: 1200, outputTokens: 340, totalTokens: 1540, costUsd: 0.00042 });
    const listed = await request(t.http).get(`/v1/runs/${runId}/steps`).set(auth());
    expect(listed.body.items[0]).toMatchObject(expected);
    const found = await request(t.http).get('/v1/steps').query({ model: 'gpt-4o-mini-2024-07-18' }).set(auth());
    expect(found.body.items.map((s: { id: string }) => s.id)).toEqual([created.body.id]);
    expect(found.body.items[0]).toMatchObject(expected);
    expect((await request(t.http).get('/v1/steps').query({ model: 'gpt-4o' }).set(auth())).body.items).toEqual([]);

    // A step that is not a model call has every LLM field null.
    const plain = await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send({ name: 'filter', type: 'filter' });
    expect(plain.body).toMatchObject({ model: null, provider: null, modelParameters: null, usage: null, costUsd: null, costSource: null });
  });

  it('refuses bad LLM fields with 400 and the field named', async () => {
    const runId = await newRun();
    const bad: [Record<string, unknown>, string][] = [
      [{ usage: { input: -1 } }, 'usage.input'],
      [{ usage: { input: 1.5 } }, 'usage.input'],
      [{ usage: { inputTokens: 3 } }, 'usage.inputTokens'],
      [{ usage: 'lots' }, 'usage'],
      [{ costUsd: 'cheap' }, 'costUsd'],
      [{ costUsd: -0.01 }, 'costUsd'],
      [{ model: '' }, 'model'],
      [{ model: 'x'.repeat(201) }, 'model'],
      [{ modelParameters: [1, 2] }, 'modelParameters'],
      [{ timeToFirstTokenMs: -5 }, 'timeToFirstTokenMs'],
      [{ model: null }, 'model'],
    ];
    for (const [body, field] of bad) {
      const res = await request(t.http)
        .post(`/v1/runs/${runId}/steps`)
        .set(auth())
        .send({ name: 'answer', ...body });
      const error = expectError(res, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(error.details)).toContain(field);
    }
    const step = await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send({ name: 'answer' });
    expectError(
      await request(t.http)
        .patch(`/v1/steps/${step.body.id}`)
        .set(auth())
        .send({ usage: { output: -3 } }),
      400,
      'VALIDATION_FAILED',
    );
    const res = await request(t.http)
      .post('/v1/ingest')
      .set(auth())
      .send({ events: [{ id: randomUUID(), type: 'step-update', body: { id: step.body.id, usage: { total: 'many' } } }] });
    expect(res.body.results[0]).toMatchObject({ status: 400, error: { error: 'VALIDATION_FAILED' } });
  });

  it('keeps run totals exact through updates, replays and the batch paths', async () => {
    const runId = await newRun();
    const a = randomUUID();
    const b = randomUUID();
    const c = randomUUID();
    const create = { id: a, name: 'rewrite', type: 'llm', model: 'm-1', usage: { input: 100, output: 10 }, costUsd: 0.5 };
    expect((await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send(create)).status).toBe(201);
    // Replays of the same create change nothing.
    for (let i = 0; i < 3; i++) expect((await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send(create)).status).toBe(200);
    expect(await getRun(runId)).toMatchObject({ inputTokens: 100, outputTokens: 10, totalTokens: 110, costUsd: 0.5 });
    // An update moves the totals by the difference; repeated, by nothing more.
    for (let i = 0; i < 2; i++) {
      const res = await request(t.http)
        .patch(`/v1/steps/${a}`)
        .set(auth())
        .send({ usage: { input: 150, output: 20, total: 175 }, costUsd: 0.25 });
      expect(res.status).toBe(200);
    }
    expect(await getRun(runId)).toMatchObject({ inputTokens: 150, outputTokens: 20, totalTokens: 175, costUsd: 0.25 });

    // Batch: a grouped insert (b) with its update folded in, a grouped update (a), an insert whose update
    // waits in order (c, two updates), each event sent twice and the whole batch replayed with new event ids.
    const events = [
      {
        id: randomUUID(),
        type: 'step-create',
        body: { id: b, runId, name: 'answer', type: 'llm', model: 'm-2', usage: { input: 7, output: 3 }, costUsd: 0.1 },
      },
      { id: randomUUID(), type: 'step-update', body: { id: b, status: 'success', usage: { input: 9, output: 4 }, costUsd: 0.125 } },
      { id: randomUUID(), type: 'step-update', body: { id: a, usage: { input: 200, output: 30 }, costUsd: 1 } },
      { id: randomUUID(), type: 'step-create', body: { id: c, runId, name: 'judge', model: 'm-2', usage: { input: 1, output: 1 }, costUsd: 0.001 } },
      { id: randomUUID(), type: 'step-update', body: { id: c, usage: { input: 2, output: 2 }, costUsd: 0.002 } },
      { id: randomUUID(), type: 'step-update', body: { id: c, usage: { input: 5, output: 5 }, costUsd: 0.005 } },
    ];
    await ingest([...events, ...events]);
    await ingest(events.map((e) => ({ ...e, id: randomUUID() })));
    expect(await getRun(runId)).toMatchObject({ inputTokens: 214, outputTokens: 39, totalTokens: 253, costUsd: 1.13 });
    expect(await totalsCheck()).toEqual([]);

    // Deleting the run takes its steps out of the LLM rollups.
    const before = await t.sql<{ calls: number }>(`SELECT coalesce(sum(calls), 0)::int AS calls FROM llm_usage_daily WHERE project_id = $1`, [projectId]);
    expect((await request(t.http).delete(`/v1/runs/${runId}`).set('Authorization', `Bearer ${key}`)).status).toBe(200);
    const after = await t.sql<{ calls: number }>(`SELECT coalesce(sum(calls), 0)::int AS calls FROM llm_usage_daily WHERE project_id = $1`, [projectId]);
    expect(before[0].calls - after[0].calls).toBe(3);
  });

  it('computes costs from the most specific valid model price, keeps the price used, and never rewrites them', async () => {
    const { id: otherProject, key: otherKey } = await t.newProject('llm-prices');
    const admin = { Authorization: `Bearer ${otherKey}` };
    const price = async (body: Record<string, unknown>) => {
      const res = await request(t.http).post('/v1/model-prices').set(admin).send(body);
      expect(res.status).toBe(201);
      return res.body;
    };
    const generic = await price({ modelPattern: 'gpt-4o*', inputPerMillion: 5, outputPerMillion: 15 });
    const mini = await price({ modelPattern: 'gpt-4o-mini*', inputPerMillion: 0.15, outputPerMillion: 0.6, cacheReadPerMillion: 0.075 });
    // Valid only from the future: not used for steps that start now.
    await price({ modelPattern: 'gpt-4o-mini*', inputPerMillion: 99, outputPerMillion: 99, validFrom: '2099-01-01T00:00:00.000Z' });
    expectError(await request(t.http).post('/v1/model-prices').set(admin).send({ modelPattern: 'gpt-4o*', inputPerMillion: 1, outputPerMillion: 1 }), 409);
    expectError(await request(t.http).post('/v1/model-prices').set(admin).send({ modelPattern: 'x', inputPerMillion: -1, outputPerMillion: 1 }), 400);
    expectError(await request(t.http).post('/v1/model-prices').set(admin).send({ modelPattern: 'x', outputPerMillion: 1 }), 400);
    const list = await request(t.http).get('/v1/model-prices').set(admin);
    expect(list.body.items.map((p: { modelPattern: string }) => p.modelPattern)).toEqual(['gpt-4o*', 'gpt-4o-mini*', 'gpt-4o-mini*']);
    // Prices are per project: this project sees none of the other's.
    expect((await request(t.http).get('/v1/model-prices').set(auth())).body.items).toEqual([]);
    // A read key may list, not write.
    const readKey = await request(t.http)
      .post('/v1/api-keys')
      .set(admin)
      .send({ name: 'reader', scopes: ['read'] });
    const reader = { Authorization: `Bearer ${readKey.body.key}` };
    expect((await request(t.http).get('/v1/model-prices').set(reader)).status).toBe(200);
    expectError(await request(t.http).post('/v1/model-prices').set(reader).send({ modelPattern: 'a', inputPerMillion: 1, outputPerMillion: 1 }), 403);

    const run = await request(t.http).post('/v1/runs').set(admin).send({ pipeline: 'priced' });
    const step = (body: Record<string, unknown>) =>
      request(t.http)
        .post(`/v1/runs/${run.body.id}/steps`)
        .set(admin)
        .send({ name: 'answer', type: 'llm', ...body });
    // 1,000,000 input of which 400,000 cached, 100,000 output at the gpt-4o-mini price:
    // 600,000 × 0.15 + 400,000 × 0.075 + 100,000 × 0.6, per million = 0.09 + 0.03 + 0.06 = 0.18.
    const s1 = await step({ model: 'GPT-4o-mini-2024-07-18', usage: { input: 1_000_000, output: 100_000, cacheRead: 400_000 } });
    expect(s1.body).toMatchObject({
      costUsd: 0.18,
      costSource: 'price',
      costPrice: { id: mini.id, modelPattern: 'gpt-4o-mini*', inputPerMillion: 0.15, outputPerMillion: 0.6, cacheReadPerMillion: 0.075 },
    });
    const s2 = await step({ model: 'gpt-4o', usage: { input: 1000, output: 1000 } });
    expect(s2.body).toMatchObject({ costUsd: 0.02, costSource: 'price', costPrice: { id: generic.id } });
    // The client's cost wins; a model without a price has no cost.
    expect((await step({ model: 'gpt-4o', usage: { input: 1000, output: 1000 }, costUsd: 7 })).body).toMatchObject({ costUsd: 7, costSource: 'client' });
    expect((await step({ model: 'llama-3', usage: { input: 1000, output: 1000 } })).body).toMatchObject({ costUsd: null, costSource: null, costPrice: null });
    // The model first, the usage later (grouped ingest update): priced when the usage arrives.
    const s5 = randomUUID();
    await ingest([{ type: 'step-create', body: { id: s5, runId: run.body.id, name: 'late-usage', model: 'gpt-4o-mini' } }], admin);
    expect((await request(t.http).get(`/v1/steps/${s5}`).set(admin)).body).toMatchObject({ costUsd: null });
    await ingest([{ type: 'step-update', body: { id: s5, usage: { input: 2_000_000, output: 0 } } }], admin);
    expect((await request(t.http).get(`/v1/steps/${s5}`).set(admin)).body).toMatchObject({ costUsd: 0.3, costSource: 'price' });

    // The price changes: stored costs stay, replays of priced steps too; new steps use the new price.
    const replaced = await request(t.http)
      .put(`/v1/model-prices/${mini.id}`)
      .set(admin)
      .send({ modelPattern: 'gpt-4o-mini*', inputPerMillion: 1, outputPerMillion: 2 });
    expect(replaced.status).toBe(200);
    expect((await request(t.http).get(`/v1/steps/${s1.body.id}`).set(admin)).body).toMatchObject({ costUsd: 0.18, costPrice: { inputPerMillion: 0.15 } });
    const replay = await request(t.http)
      .post(`/v1/runs/${run.body.id}/steps`)
      .set(admin)
      .send({ id: s1.body.id, name: 'answer', type: 'llm', model: 'GPT-4o-mini-2024-07-18', usage: { input: 1_000_000, output: 100_000, cacheRead: 400_000 } });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ costUsd: 0.18, costPrice: { inputPerMillion: 0.15 } });
    expect((await step({ model: 'gpt-4o-mini', usage: { input: 1_000_000, output: 1_000_000 } })).body).toMatchObject({
      costUsd: 3,
      costPrice: { id: mini.id },
    });
    expect((await request(t.http).delete(`/v1/model-prices/${generic.id}`).set(admin)).status).toBe(204);
    expect((await request(t.http).get(`/v1/steps/${s2.body.id}`).set(admin)).body).toMatchObject({ costUsd: 0.02, costPrice: { id: generic.id } });
    expectError(await request(t.http).delete(`/v1/model-prices/${generic.id}`).set(admin), 404);

    // 0.18 + 0.02 + 7 + 0.3 + 3
    expect((await request(t.http).get(`/v1/runs/${run.body.id}`).set(admin)).body.costUsd).toBeCloseTo(10.5, 10);
    const [{ stored }] = await t.sql<{ stored: string }>(`SELECT total_cost_usd::text AS stored FROM runs WHERE project_id = $1 AND id = $2`, [
      otherProject,
      run.body.id,
    ]);
    expect(Number(stored)).toBe(10.5);
  });

  it('filters and sorts runs by cost and tokens, with cursor paging', async () => {
    const { key: sortKey } = await t.newProject('llm-sort');
    const h = { Authorization: `Bearer ${sortKey}` };
    const costs = [0.5, 0.05, 2, 0, 1.25, 0.75, 0.05];
    const ids: string[] = [];
    for (const [i, cost] of costs.entries()) {
      const run = await request(t.http).post('/v1/runs').set(h).send({ pipeline: 'sorted' });
      ids.push(run.body.id);
      if (cost > 0 || i === 3) {
        await request(t.http)
          .post(`/v1/runs/${run.body.id}/steps`)
          .set(h)
          .send({ name: 'call', model: 'm', usage: { input: 100 * (i + 1), output: 10 }, costUsd: cost });
      }
    }
    const page = async (query: Record<string, unknown>) => {
      const items: { id: string; costUsd: number; totalTokens: number }[] = [];
      let cursor: string | undefined;
      do {
        const res = await request(t.http)
          .get('/v1/runs')
          .set(h)
          .query({ ...query, limit: 2, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        items.push(...res.body.items);
        cursor = res.body.nextCursor ?? undefined;
      } while (cursor);
      return items;
    };
    const byCost = await page({ sort: '-costUsd' });
    expect(byCost.map((r) => r.costUsd)).toEqual([...costs].sort((a, b) => b - a));
    expect(new Set(byCost.map((r) => r.id)).size).toBe(costs.length);
    expect((await page({ sort: 'costUsd' })).map((r) => r.costUsd)).toEqual([...costs].sort((a, b) => a - b));
    const byTokens = await page({ sort: '-totalTokens' });
    expect(byTokens.map((r) => r.totalTokens)).toEqual(costs.map((_, i) => 100 * (i + 1) + 10).sort((a, b) => b - a));
    expect((await page({ minCostUsd: 0.05, maxCostUsd: 1 })).map((r) => r.costUsd).sort()).toEqual([0.05, 0.05, 0.5, 0.75]);
    expect((await page({ minTokens: 500, sort: 'totalTokens' })).map((r) => r.totalTokens)).toEqual([510, 610, 710]);

    expectError(await request(t.http).get('/v1/runs').set(h).query({ sort: 'price' }), 400, 'VALIDATION_FAILED');
    expectError(await request(t.http).get('/v1/runs').set(h).query({ minCostUsd: 'x' }), 400, 'VALIDATION_FAILED');
    expectError(await request(t.http).get('/v1/runs').set(h).query({ minCostUsd: 2, maxCostUsd: 1 }), 400);
    const first = await request(t.http).get('/v1/runs').set(h).query({ sort: '-costUsd', limit: 1 });
    // A cursor of one order is refused by another.
    expectError(await request(t.http).get('/v1/runs').set(h).query({ sort: '-totalTokens', cursor: first.body.nextCursor }), 400, 'INVALID_CURSOR');
    expectError(await request(t.http).get('/v1/runs').set(h).query({ cursor: first.body.nextCursor }), 400, 'INVALID_CURSOR');
  });

  it('answers LLM analytics from rollups that equal the raw steps, per time, pipeline, step name and model', async () => {
    const { id: pid, key: aKey } = await t.newProject('llm-analytics');
    const h = { Authorization: `Bearer ${aKey}` };
    const base = Date.parse('2026-06-01T00:00:00.000Z');
    const iso = (ms: number) => new Date(base + ms).toISOString();
    const events: { type: string; body: Record<string, unknown> }[] = [];
    const steps: string[] = [];
    for (let i = 0; i < 24; i++) {
      const runId = randomUUID();
      const start = i * 5 * 3_600_000; // every 5 hours, over five days
      const pipe = i % 3 === 0 ? 'support' : 'search';
      events.push({ type: 'run-create', body: { id: runId, pipeline: pipe, startedAt: iso(start) } });
      for (const [j, model] of ['gpt-4o-mini', i % 2 ? 'claude-3-5-haiku' : 'gpt-4o-mini'].entries()) {
        const id = randomUUID();
        steps.push(id);
        events.push({
          type: 'step-create',
          body: {
            id,
            runId,
            name: j ? 'answer' : 'rewrite',
            type: 'llm',
            model,
            startedAt: iso(start + j * 1000),
            usage: { input: 100 + i, output: 10 * j + 1 },
            costUsd: 0.001 * (i + 1),
          },
        });
        events.push({ type: 'step-update', body: { id, status: 'success', endedAt: iso(start + j * 1000 + 200 + 50 * i) } });
      }
      events.push({ type: 'step-create', body: { id: randomUUID(), runId, name: 'filter', type: 'filter', startedAt: iso(start + 5000) } });
    }
    const res = await request(t.http)
      .post('/v1/ingest')
      .set(h)
      .send({ events: events.map((e) => ({ id: randomUUID(), ...e })) });
    expect(res.body.results.filter((r: { status: number }) => r.status >= 300)).toEqual([]);
    // Changes after the fact: new usage on some steps, a model changed, one replayed.
    for (const [k, id] of steps.slice(0, 6).entries()) {
      const patch = await request(t.http)
        .patch(`/v1/steps/${id}`)
        .set(h)
        .send(k === 2 ? { model: 'gpt-4o' } : { usage: { input: 5000, output: 500 }, costUsd: 0.5 });
      expect(patch.status).toBe(200);
    }

    for (const grain of ['hour', 'day']) {
      const table = grain === 'hour' ? 'hourly' : 'daily';
      const pairs: [string, string][] = [
        [
          `SELECT pipeline, ${grain}, name, model, calls, input_tokens::bigint, output_tokens::bigint, total_tokens::bigint, cost_usd::numeric FROM llm_usage_${table} WHERE project_id = $1 AND calls <> 0`,
          `SELECT pipeline, date_trunc('${grain}', run_started_at, 'UTC'), name, coalesce(model, ''), count(*)::int, sum(coalesce(usage_input, 0))::bigint,
                  sum(coalesce(usage_output, 0))::bigint, sum(coalesce(usage_total, 0))::bigint, sum(coalesce(cost_usd, 0))::numeric
           FROM steps WHERE project_id = $1 AND (model IS NOT NULL OR usage_total IS NOT NULL OR cost_usd IS NOT NULL) GROUP BY 1, 2, 3, 4`,
        ],
        [
          `SELECT pipeline, ${grain}, model, bucket, count FROM model_durations_${table} WHERE project_id = $1 AND count <> 0`,
          `SELECT pipeline, date_trunc('${grain}', run_started_at, 'UTC'), model, xray_duration_bucket(duration_ms), count(*)::int
           FROM steps WHERE project_id = $1 AND model IS NOT NULL AND duration_ms IS NOT NULL GROUP BY 1, 2, 3, 4`,
        ],
      ];
      for (const [rollup, raw] of pairs) {
        expect(await t.sql(`${rollup} EXCEPT ${raw}`, [pid])).toEqual([]);
        expect(await t.sql(`${raw} EXCEPT ${rollup}`, [pid])).toEqual([]);
        expect((await t.sql(rollup, [pid])).length).toBeGreaterThan(0);
      }
    }

    const from = iso(0);
    const to = iso(6 * 86_400_000);
    const answer = await request(t.http).get('/v1/analytics/llm').set(h).query({ from, to });
    expect(answer.status).toBe(200);
    const raw = await t.sql<{ model: string; calls: number; total: string; cost: string; durations: number[] }>(
      `SELECT model, count(*)::int AS calls, sum(usage_total)::text AS total, sum(cost_usd)::text AS cost, array_agg(duration_ms ORDER BY duration_ms) AS durations
       FROM steps WHERE project_id = $1 AND model IS NOT NULL GROUP BY model`,
      [pid],
    );
    expect(answer.body.byModel.map((m: { model: string }) => m.model).sort()).toEqual(raw.map((r) => r.model).sort());
    for (const r of raw) {
      const m = answer.body.byModel.find((x: { model: string }) => x.model === r.model);
      expect({ calls: m.calls, totalTokens: m.totalTokens, costUsd: m.costUsd }).toEqual({
        calls: r.calls,
        totalTokens: Number(r.total),
        costUsd: Number(r.cost),
      });
      const exact = (q: number) => r.durations[Math.round(q * (r.durations.length - 1))];
      expect(Math.abs(m.p50DurationMs - exact(0.5)) / exact(0.5)).toBeLessThan(0.15);
      expect(Math.abs(m.p95DurationMs - exact(0.95)) / exact(0.95)).toBeLessThan(0.15);
    }
    expect(answer.body.byModel.map((m: { costUsd: number }) => m.costUsd)).toEqual(
      [...answer.body.byModel.map((m: { costUsd: number }) => m.costUsd)].sort((a, b) => b - a),
    );
    const [totals] = await t.sql<{ calls: number; cost: string }>(
      `SELECT count(*)::int AS calls, sum(cost_usd)::text AS cost FROM steps WHERE project_id = $1 AND model IS NOT NULL`,
      [pid],
    );
    expect(answer.body.totals).toMatchObject({ calls: totals.calls, costUsd: Number(totals.cost) });
    expect(answer.body.byPipeline.map((p: { pipeline: string }) => p.pipeline).sort()).toEqual(['search', 'support']);
    expect(answer.body.byStep.map((p: { pipeline: string; name: string }) => `${p.pipeline}/${p.name}`).sort()).toEqual([
      'search/answer',
      'search/rewrite',
      'support/answer',
      'support/rewrite',
    ]);
    // A day series of six days, its calls adding up to the total.
    expect(answer.body.bucket).toBe('day');
    expect(answer.body.timeSeries).toHaveLength(6);
    expect(answer.body.timeSeries.reduce((n: number, p: { calls: number }) => n + p.calls, 0)).toBe(totals.calls);

    // One pipeline, an hourly series over a day.
    const day = await request(t.http)
      .get('/v1/analytics/llm')
      .set(h)
      .query({ pipeline: 'support', from: iso(0), to: iso(86_400_000) });
    expect(day.body).toMatchObject({ pipeline: 'support', bucket: 'hour' });
    expect(day.body.timeSeries).toHaveLength(24);
    const [support] = await t.sql<{ calls: number }>(
      `SELECT count(*)::int AS calls FROM steps WHERE project_id = $1 AND pipeline = 'support' AND model IS NOT NULL AND run_started_at < $2`,
      [pid, iso(86_400_000)],
    );
    expect(day.body.totals.calls).toBe(support.calls);
    expect(day.body.timeSeries.filter((p: { calls: number }) => p.calls > 0).map((p: { start: string }) => p.start)).toEqual([iso(0), iso(15 * 3_600_000)]);
    expectError(await request(t.http).get('/v1/analytics/llm').set(h).query({ from: to, to: from }), 400, 'INVALID_RANGE');
  });

  it('exports LLM steps with their fields and imports them into another project with the same totals', async () => {
    const { key: fromKey } = await t.newProject('llm-export');
    const { key: toKey } = await t.newProject('llm-import');
    const from = { Authorization: `Bearer ${fromKey}` };
    const to = { Authorization: `Bearer ${toKey}` };
    await request(t.http).post('/v1/model-prices').set(from).send({ modelPattern: 'm*', inputPerMillion: 1, outputPerMillion: 2 });
    const run = await request(t.http).post('/v1/runs').set(from).send({ pipeline: 'moved' });
    const step = await request(t.http)
      .post(`/v1/runs/${run.body.id}/steps`)
      .set(from)
      .send({
        name: 'call',
        model: 'm-1',
        provider: 'p',
        modelParameters: { temperature: 1 },
        usage: { input: 1_000_000, output: 500_000 },
        timeToFirstTokenMs: 12,
      });
    expect(step.body).toMatchObject({ costUsd: 2, costSource: 'price' });
    const exported = await request(t.http)
      .get('/v1/export')
      .query({ pipeline: 'moved' })
      .set(from)
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => done(null, text));
      });
    expect(exported.status).toBe(200);
    const imported = await request(t.http)
      .post('/v1/import')
      .set(to)
      .set('Content-Type', 'application/x-ndjson')
      .send(exported.body as string);
    expect(imported.status).toBe(200);
    const copy = (await request(t.http).get(`/v1/steps/${step.body.id}`).set(to)).body;
    expect(copy).toMatchObject({
      model: 'm-1',
      provider: 'p',
      modelParameters: { temperature: 1 },
      usage: { input: 1_000_000, output: 500_000, total: 1_500_000 },
      costUsd: 2,
      costSource: 'client',
      timeToFirstTokenMs: 12,
    });
    expect((await request(t.http).get(`/v1/runs/${run.body.id}`).set(to)).body).toMatchObject({ totalTokens: 1_500_000, costUsd: 2 });
  });
});
