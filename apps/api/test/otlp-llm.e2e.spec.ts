import request from 'supertest';
import { OTLP } from '../src/otlp/otlp-schema.js';
import { runIdOf, stepIdOf } from '../src/otlp/otlp-mapping.js';
import { createTestApp, type TestApp } from './harness.js';

type Attr = { key: string; value: Record<string, unknown> };
const str = (key: string, value: string): Attr => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): Attr => ({ key, value: { intValue: String(value) } });
const dbl = (key: string, value: number): Attr => ({ key, value: { doubleValue: value } });
const at = (ms: number) => String(BigInt(Date.UTC(2026, 10, 30, 13, 0, 0)) * 1_000_000n + BigInt(ms) * 1_000_000n);

/**
 * LLM fields from OpenTelemetry spans: a GenAI-shaped chat span and an OpenInference LLM span,
 * sent in protobuf, read back through the REST API (step fields, run totals, metadata without
 * the attributes used), and a computed cost from the project's model price.
 */
describe('OTLP spans to LLM steps', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  const auth = () => ({ Authorization: `Bearer ${project.key}` });
  const traceId = 'c0ffee'.padEnd(32, '1');
  const [root, chat, oi] = ['00000000000000a1', '00000000000000a2', '00000000000000a3'];

  const spans = [
    {
      traceId,
      spanId: chat,
      parentSpanId: root,
      name: 'chat gpt-4o-mini',
      startTimeUnixNano: at(10),
      endTimeUnixNano: at(910),
      attributes: [
        str('gen_ai.operation.name', 'chat'),
        str('gen_ai.request.model', 'gpt-4o-mini'),
        str('gen_ai.response.model', 'gpt-4o-mini-2024-07-18'),
        str('gen_ai.provider.name', 'openai'),
        int('gen_ai.usage.input_tokens', 2_000_000),
        int('gen_ai.usage.output_tokens', 500_000),
        int('gen_ai.usage.cache_read.input_tokens', 1_000_000),
        dbl('gen_ai.request.temperature', 0.2),
        int('gen_ai.request.max_tokens', 256),
        dbl('gen_ai.request.top_p', 0.9),
        str('gen_ai.response.id', 'chatcmpl-1'),
      ],
    },
    {
      traceId,
      spanId: oi,
      parentSpanId: root,
      name: 'ChatCompletion',
      startTimeUnixNano: at(920),
      endTimeUnixNano: at(1400),
      attributes: [
        str('openinference.span.kind', 'LLM'),
        str('llm.model_name', 'claude-3-5-haiku'),
        str('llm.provider', 'anthropic'),
        str('llm.system', 'anthropic'),
        int('llm.token_count.prompt', 300),
        int('llm.token_count.completion', 40),
        int('llm.token_count.total', 340),
        int('llm.token_count.prompt_details.cache_write', 100),
        dbl('llm.cost.total', 0.0025),
        str('llm.invocation_parameters', '{"temperature":0,"max_tokens":64}'),
      ],
    },
    { traceId, spanId: root, name: 'agent', startTimeUnixNano: at(0), endTimeUnixNano: at(1500), attributes: [], status: { code: 1 } },
  ];

  function protobufExport(): Buffer {
    const bytes = (hex?: string) => (hex ? Buffer.from(hex, 'hex') : undefined);
    const message = OTLP.ExportTraceServiceRequest.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [str('service.name', 'llm-svc')] },
          scopeSpans: [
            {
              scope: { name: 'test' },
              spans: spans.map((s) => ({ ...s, traceId: bytes(s.traceId), spanId: bytes(s.spanId), parentSpanId: bytes(s.parentSpanId) })),
            },
          ],
        },
      ],
    });
    return Buffer.from(OTLP.ExportTraceServiceRequest.encode(message).finish());
  }
  const send = () =>
    request(t.http)
      .post('/v1/traces')
      .set('Content-Type', 'application/x-protobuf')
      .set(auth())
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .send(protobufExport());

  beforeAll(async () => {
    t = await createTestApp();
    project = await t.newProject('otlp-llm');
  });
  afterAll(async () => t?.close());

  it('maps GenAI and OpenInference attributes to the LLM fields, prices what has no cost, and totals the run', async () => {
    const price = await request(t.http)
      .post('/v1/model-prices')
      .set(auth())
      .send({ modelPattern: 'gpt-4o-mini*', inputPerMillion: 0.15, outputPerMillion: 0.6, cacheReadPerMillion: 0.075 });
    expect(price.status).toBe(201);
    expect((await send()).status).toBe(200);

    const step = async (spanId: string) =>
      (
        await request(t.http)
          .get(`/v1/steps/${stepIdOf(project.id, traceId, spanId)}`)
          .set(auth())
      ).body;
    const chatStep = await step(chat);
    // 1,000,000 uncached input × 0.15 + 1,000,000 cached × 0.075 + 500,000 output × 0.6, per million.
    expect(chatStep).toMatchObject({
      type: 'llm',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      modelParameters: { temperature: 0.2, max_tokens: 256, top_p: 0.9 },
      usage: { input: 2_000_000, output: 500_000, total: 2_500_000, cacheRead: 1_000_000, cacheWrite: null, reasoning: null },
      costUsd: 0.525,
      costSource: 'price',
      costPrice: { id: price.body.id },
    });
    // The attributes used leave the metadata; the others stay (the model asked for too, as it differs from the one that answered).
    expect(chatStep.metadata.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.id': 'chatcmpl-1',
    });

    const oiStep = await step(oi);
    expect(oiStep).toMatchObject({
      type: 'llm',
      model: 'claude-3-5-haiku',
      provider: 'anthropic',
      modelParameters: { temperature: 0, max_tokens: 64 },
      usage: { input: 300, output: 40, total: 340, cacheRead: null, cacheWrite: 100 },
      costUsd: 0.0025,
      costSource: 'client',
    });
    expect(oiStep.metadata.attributes).toEqual({ 'openinference.span.kind': 'LLM' });

    const runId = runIdOf(project.id, traceId);
    const run = (await request(t.http).get(`/v1/runs/${runId}`).set(auth())).body;
    expect(run).toMatchObject({ inputTokens: 2_000_300, outputTokens: 500_040, totalTokens: 2_500_340, costUsd: 0.5275 });

    // A re-export changes nothing: same costs, same totals.
    expect((await send()).status).toBe(200);
    expect((await request(t.http).get(`/v1/runs/${runId}`).set(auth())).body).toEqual(run);
    const found = await request(t.http).get('/v1/steps').query({ model: 'claude-3-5-haiku' }).set(auth());
    expect(found.body.items.map((s: { id: string }) => s.id)).toEqual([stepIdOf(project.id, traceId, oi)]);
  });
});
