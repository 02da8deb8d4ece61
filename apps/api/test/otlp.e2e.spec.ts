import request from 'supertest';
import { gzipSync } from 'node:zlib';
import { OTLP } from '../src/otlp/otlp-schema.js';
import { runIdOf, stepIdOf } from '../src/otlp/otlp-mapping.js';
import { createTestApp, type TestApp } from './harness.js';

/** A span in OTLP/JSON form (hex ids, times as decimal strings). */
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; timeUnixNano: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
  status?: { code?: number; message?: string };
  droppedAttributesCount?: number;
}

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const at = (ms: number) => String(BigInt(Date.UTC(2026, 10, 30, 12, 0, 0)) * 1_000_000n + BigInt(ms) * 1_000_000n);
const hexId = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0');

/**
 * A small RAG trace: answer (root) → retrieve → embed, and answer → generate (ended in error,
 * with an exception event). Children come before their parents, as exporters send them.
 */
function ragTrace(trace: number) {
  const traceId = hexId(trace, 16);
  const [root, retrieve, embed, generate] = [1, 2, 3, 4].map((n) => hexId(trace * 16 + n, 8));
  const spans: Record<string, JsonSpan> = {
    embed: {
      traceId,
      spanId: embed,
      parentSpanId: retrieve,
      name: 'embed-query',
      startTimeUnixNano: at(20),
      endTimeUnixNano: at(40),
      attributes: [str('openinference.span.kind', 'EMBEDDING')],
    },
    retrieve: {
      traceId,
      spanId: retrieve,
      parentSpanId: root,
      name: 'retrieve',
      startTimeUnixNano: at(10),
      endTimeUnixNano: at(100),
      attributes: [
        str('openinference.span.kind', 'RETRIEVER'),
        str('input.value', '{"q":"laptop stand"}'),
        str('input.mime_type', 'application/json'),
        str('output.value', '3 documents'),
        str('retrieval.documents.0.document.id', 'doc-a'),
        { key: 'retrieval.documents.0.document.score', value: { doubleValue: 0.9 } },
        str('retrieval.documents.0.document.content', 'Aluminium stand'),
        str('retrieval.documents.1.document.id', 'doc-b'),
        { key: 'retrieval.documents.1.document.score', value: { doubleValue: 0.4 } },
      ],
    },
    generate: {
      traceId,
      spanId: generate,
      parentSpanId: root,
      name: 'generate',
      startTimeUnixNano: at(110),
      endTimeUnixNano: at(300),
      attributes: [str('gen_ai.operation.name', 'chat'), { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } }],
      events: [
        {
          name: 'exception',
          timeUnixNano: at(299),
          attributes: [str('exception.type', 'RateLimitError'), str('exception.message', 'slow down'), str('exception.stacktrace', 'at call()')],
        },
      ],
      status: { code: 2, message: 'rate limited' },
    },
    root: {
      traceId,
      spanId: root,
      name: 'answer-question',
      startTimeUnixNano: at(0),
      endTimeUnixNano: at(400),
      attributes: [
        str('gen_ai.workflow.name', 'rag-answer'),
        str('input.value', 'Which laptop stand?'),
        str('session.id', 'session-1'),
        { key: 'tag.tags', value: { arrayValue: { values: [{ stringValue: 'beta' }] } } },
      ],
      status: { code: 1 },
    },
  };
  return { traceId, ids: { root, retrieve, embed, generate }, spans };
}

const jsonExport = (spans: JsonSpan[]) => ({
  resourceSpans: [{ resource: { attributes: [str('service.name', 'shop-api')] }, scopeSpans: [{ scope: { name: 'test', version: '1' }, spans }] }],
});

/** The same export in the binary encoding, written with protobufjs from the project's schema. */
function protobufExport(spans: JsonSpan[]): Buffer {
  const bytes = (hex?: string) => (hex ? Buffer.from(hex, 'hex') : undefined);
  const body = jsonExport(spans);
  const message = OTLP.ExportTraceServiceRequest.fromObject({
    ...body,
    resourceSpans: body.resourceSpans.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...ss,
        spans: ss.spans.map((s) => ({ ...s, traceId: bytes(s.traceId), spanId: bytes(s.spanId), parentSpanId: bytes(s.parentSpanId) })),
      })),
    })),
  });
  return Buffer.from(OTLP.ExportTraceServiceRequest.encode(message).finish());
}

const binary = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => done(null, Buffer.concat(chunks)));
};

describe('POST /v1/traces (OTLP/HTTP)', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  let other: { id: string; key: string };

  const post = (body: Buffer | string, contentType: string, key: string | null = project.key, encoding?: string) => {
    let r = request(t.http).post('/v1/traces').set('Content-Type', contentType);
    if (key) r = r.set('Authorization', `Bearer ${key}`);
    if (encoding) r = r.set('Content-Encoding', encoding);
    return r.buffer(true).parse(binary).send(body);
  };
  const postJson = (spans: JsonSpan[], key = project.key) => post(JSON.stringify(jsonExport(spans)), 'application/json', key);
  const postProto = (spans: JsonSpan[], key = project.key, encoding?: string) =>
    post(encoding === 'gzip' ? gzipSync(protobufExport(spans)) : protobufExport(spans), 'application/x-protobuf', key, encoding);
  const getRun = (id: string, key = project.key) => request(t.http).get(`/v1/runs/${id}`).set('Authorization', `Bearer ${key}`);
  const stepCount = async (projectId: string) =>
    Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM steps WHERE project_id = $1', [projectId]))[0].n);

  beforeAll(async () => {
    t = await createTestApp();
    project = await t.newProject('otlp');
    other = await t.newProject('otlp-other');
  });
  afterAll(async () => t?.close());

  it('stores a protobuf export (gzip) as a run whose steps nest by parent span, and a re-export changes nothing', async () => {
    const { traceId, ids, spans } = ragTrace(1);
    const order = [spans.embed, spans.retrieve, spans.generate, spans.root];
    const res = await postProto(order, project.key, 'gzip');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-protobuf/);
    expect((res.body as Buffer).length).toBe(0);

    const runId = runIdOf(project.id, traceId);
    const run = await getRun(runId);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({
      tags: ['beta'],
      metadata: { sessionId: 'session-1', otel: { traceId, resource: { 'service.name': 'shop-api' } } },
      id: runId,
      pipeline: 'rag-answer',
      status: 'success',
      input: 'Which laptop stand?',
      startedAt: '2026-11-30T12:00:00.000Z',
      endedAt: '2026-11-30T12:00:00.400Z',
    });
    const bySession = await request(t.http).get('/v1/runs').query({ 'metadata[sessionId]': 'session-1' }).set('Authorization', `Bearer ${project.key}`);
    expect(bySession.status).toBe(200);
    expect(bySession.body.items.map((r: { id: string }) => r.id)).toContain(runId);
    const step = (id: string) => stepIdOf(project.id, traceId, id);
    expect(run.body.steps).toHaveLength(1);
    const [root] = run.body.steps;
    expect(root).toMatchObject({ id: step(ids.root), name: 'answer-question', type: 'custom', status: 'success' });
    expect(root.children.map((c: { id: string }) => c.id)).toEqual([step(ids.retrieve), step(ids.generate)]);
    const [retrieve, generate] = root.children;
    expect(retrieve).toMatchObject({ type: 'retrieval', status: 'success', durationMs: 90, input: { q: 'laptop stand' }, output: '3 documents' });
    expect(retrieve.children).toMatchObject([{ id: step(ids.embed), name: 'embed-query', type: 'transform', parentStepId: step(ids.retrieve) }]);
    expect(generate).toMatchObject({ type: 'llm', status: 'error', error: { type: 'RateLimitError', message: 'slow down', stack: 'at call()' } });
    expect(retrieve).toMatchObject({ candidatesIn: 2, candidatesOut: 2 });
    const candidates = await request(t.http)
      .get(`/v1/steps/${step(ids.retrieve)}/candidates`)
      .set('Authorization', `Bearer ${project.key}`);
    expect(candidates.body.items).toMatchObject([
      { key: 'doc-a', decision: 'accepted', rank: 1, score: 0.9 },
      { key: 'doc-b', decision: 'accepted', rank: 2, score: 0.4 },
    ]);
    const detail = await request(t.http)
      .get(`/v1/steps/${step(ids.generate)}`)
      .set('Authorization', `Bearer ${project.key}`);
    expect(detail.body.metadata).toMatchObject({
      otel: { traceId, spanId: ids.generate, parentSpanId: ids.root },
      attributes: { 'gen_ai.operation.name': 'chat' },
    });
    // Token usage is an LLM field of the step, no longer an attribute in its metadata.
    expect(detail.body.usage).toMatchObject({ input: 120 });
    expect(detail.body.metadata.attributes).not.toHaveProperty('gen_ai.usage.input_tokens');

    const steps = await stepCount(project.id);
    expect(steps).toBe(4);
    const again = await postProto(order, project.key, 'gzip');
    expect(again.status).toBe(200);
    expect((await getRun(runId)).body).toEqual(run.body);
    expect(await stepCount(project.id)).toBe(steps);
  });

  it('stores the same trace sent as OTLP/JSON (ids upper case), answering {}; the JSON re-export creates nothing', async () => {
    const { traceId, spans } = ragTrace(2);
    const upper = Object.values(spans).map((s) => ({ ...s, traceId: s.traceId.toUpperCase() }));
    const res = await postJson(upper);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse((res.body as Buffer).toString())).toEqual({});
    const run = await getRun(runIdOf(project.id, traceId));
    expect(run.body).toMatchObject({ pipeline: 'rag-answer', status: 'success', stepCount: 4 });
    const before = await stepCount(project.id);
    expect((await postJson(upper)).status).toBe(200);
    expect(await stepCount(project.id)).toBe(before);
    expect((await getRun(runIdOf(project.id, traceId))).body).toEqual(run.body);
  });

  it('keeps a trace sent over several exports: the run exists from the first, a child stored before its parent moves under it when it arrives', async () => {
    const { traceId, ids, spans } = ragTrace(3);
    const first = await postJson([spans.embed, spans.retrieve]);
    expect(first.status).toBe(200);
    // retrieve's parent (the root) has not come yet: retrieve waits as a top-level step, and the answer says so.
    expect(JSON.parse((first.body as Buffer).toString()).partialSuccess).toMatchObject({
      rejectedSpans: '0',
      errorMessage: expect.stringMatching(/parent span/),
    });
    const runId = runIdOf(project.id, traceId);
    const step = (id: string) => stepIdOf(project.id, traceId, id);
    const early = (await getRun(runId)).body;
    expect(early).toMatchObject({ status: 'running', pipeline: 'shop-api', steps: [{ id: step(ids.retrieve), parentStepId: null }] });
    expect((await postJson([spans.root])).status).toBe(200);
    const last = await postJson([spans.generate]);
    expect(JSON.parse((last.body as Buffer).toString())).toEqual({});
    const run = (await getRun(runId)).body;
    expect(run).toMatchObject({ status: 'success', pipeline: 'rag-answer', stepCount: 4 });
    expect(run.steps).toMatchObject([{ id: step(ids.root), parentStepId: null }]);
    expect(run.steps[0].children).toMatchObject([
      { id: step(ids.retrieve), parentStepId: step(ids.root), children: [{ id: step(ids.embed) }] },
      { id: step(ids.generate), parentStepId: step(ids.root) },
    ]);
    const detail = await request(t.http)
      .get(`/v1/steps/${step(ids.retrieve)}`)
      .set('Authorization', `Bearer ${project.key}`);
    expect(detail.body.metadata.otel).not.toHaveProperty('parentMissing');
    // A re-export of the early part changes nothing now.
    expect((await postJson([spans.embed, spans.retrieve])).status).toBe(200);
    expect((await getRun(runId)).body).toEqual(run);
  });

  it('ends a run whose child, sent first, starts after the root ends (clock skew) at its start, refusing nothing', async () => {
    // Spans carry their own clocks (another host, or the SDK anchoring each span's clock anew):
    // here the child starts 5 ms after the root ended. Sent first, it starts the run.
    const traceId = hexId(61, 16);
    const [rootId, childId] = [hexId(61 * 16 + 1, 8), hexId(61 * 16 + 2, 8)];
    const root: JsonSpan = {
      traceId,
      spanId: rootId,
      name: 'skewed',
      startTimeUnixNano: at(0),
      endTimeUnixNano: at(10),
      status: { code: 2, message: 'failed' },
    };
    const child: JsonSpan = { traceId, spanId: childId, parentSpanId: rootId, name: 'late-clock', startTimeUnixNano: at(15), endTimeUnixNano: at(20) };
    for (const spans of [[child], [root]]) {
      const res = await postJson(spans);
      expect(res.status).toBe(200);
      expect(JSON.parse((res.body as Buffer).toString()).partialSuccess?.rejectedSpans ?? '0').toBe('0');
    }
    const run = (await getRun(runIdOf(project.id, traceId))).body;
    expect(run).toMatchObject({ status: 'error', startedAt: '2026-11-30T12:00:00.015Z', endedAt: '2026-11-30T12:00:00.015Z', stepCount: 2 });
    expect(run.steps).toMatchObject([{ name: 'skewed', status: 'error', children: [{ name: 'late-clock' }] }]);
  });

  it('answers a partial success naming spans with invalid ids, storing the rest', async () => {
    const { spans } = ragTrace(4);
    const res = await postJson([spans.root, { ...spans.retrieve, spanId: 'abc' }]);
    expect(res.status).toBe(200);
    const body = JSON.parse((res.body as Buffer).toString());
    expect(body.partialSuccess).toMatchObject({ rejectedSpans: '1', errorMessage: expect.stringMatching(/spanId/) });
    expect((await getRun(runIdOf(project.id, spans.root.traceId))).body).toMatchObject({ status: 'success', stepCount: 1 });
  });

  it('rejects a span carrying a value past XRAY_MAX_STRING_LENGTH, naming it, and keeps the others', async () => {
    const { traceId, spans } = ragTrace(7);
    const huge = { ...spans.generate, attributes: [str('output.value', 'x'.repeat(t.config.maxStringLength + 1))] };
    const res = await postJson([spans.root, huge]);
    expect(res.status).toBe(200);
    expect(JSON.parse((res.body as Buffer).toString()).partialSuccess).toMatchObject({
      rejectedSpans: '1',
      errorMessage: expect.stringMatching(new RegExp(`span ${spans.generate.spanId}.*longer than ${t.config.maxStringLength}`)),
    });
    expect((await getRun(runIdOf(project.id, traceId))).body).toMatchObject({ status: 'success', stepCount: 1 });
  });

  it('takes input and output from the flattened message forms and system instructions, and candidates from gen_ai.retrieval.documents', async () => {
    const traceId = hexId(40, 16);
    const [root, chat, search] = [1, 2, 3].map((n) => hexId(40 * 16 + n, 8));
    const spans: JsonSpan[] = [
      {
        traceId,
        spanId: chat,
        parentSpanId: root,
        name: 'chat',
        startTimeUnixNano: at(10),
        endTimeUnixNano: at(20),
        attributes: [
          str('gen_ai.operation.name', 'chat'),
          str('gen_ai.prompt.0.role', 'user'),
          str('gen_ai.prompt.0.content', 'Weather?'),
          str('gen_ai.completion.0.role', 'assistant'),
          str('gen_ai.completion.0.tool_calls.0.name', 'get_weather'),
          str('llm.input_messages.0.message.role', 'user'),
        ],
      },
      {
        traceId,
        spanId: search,
        parentSpanId: root,
        name: 'search',
        startTimeUnixNano: at(30),
        endTimeUnixNano: at(40),
        attributes: [
          str('gen_ai.operation.name', 'retrieval'),
          str('gen_ai.retrieval.query.text', 'paris weather'),
          str('gen_ai.retrieval.documents', '[{"id":"w-1","score":0.7},{"id":"w-2","score":0.2}]'),
        ],
      },
      {
        traceId,
        spanId: root,
        name: 'agent',
        startTimeUnixNano: at(0),
        endTimeUnixNano: at(50),
        attributes: [str('gen_ai.system_instructions', 'Be brief'), str('llm.output_messages.0.message.content', 'Sunny')],
      },
    ];
    expect((await postJson(spans)).status).toBe(200);
    const get = (stepSpan: string) =>
      request(t.http)
        .get(`/v1/steps/${stepIdOf(project.id, traceId, stepSpan)}`)
        .set('Authorization', `Bearer ${project.key}`);
    const chatStep = (await get(chat)).body;
    expect(chatStep).toMatchObject({
      type: 'llm',
      input: [{ role: 'user', content: 'Weather?' }],
      output: [{ role: 'assistant', tool_calls: [{ name: 'get_weather' }] }],
    });
    // The form not used for the input stays in the metadata; those used do not.
    expect(Object.keys(chatStep.metadata.attributes).sort()).toEqual(['gen_ai.operation.name', 'llm.input_messages.0.message.role']);
    expect((await get(root)).body).toMatchObject({
      input: [{ role: 'system', parts: [{ type: 'text', content: 'Be brief' }] }],
      output: [{ content: 'Sunny' }],
    });
    const searchStep = (await get(search)).body;
    expect(searchStep).toMatchObject({ type: 'retrieval', input: 'paris weather', candidatesIn: 2, candidatesOut: 2 });
    expect(searchStep.metadata.attributes).toEqual({ 'gen_ai.operation.name': 'retrieval' });
    const candidates = await request(t.http)
      .get(`/v1/steps/${stepIdOf(project.id, traceId, search)}/candidates`)
      .set('Authorization', `Bearer ${project.key}`);
    expect(candidates.body.items).toMatchObject([
      { key: 'w-1', decision: 'accepted', rank: 1, score: 0.7 },
      { key: 'w-2', decision: 'accepted', rank: 2, score: 0.2 },
    ]);
  });

  it('keeps at most 128 attributes of a span in its metadata, counting the rest as dropped, and says so', async () => {
    const traceId = hexId(41, 16);
    const spanId = hexId(41 * 16 + 1, 8);
    const attributes = Array.from({ length: 200 }, (_, i) => str(`custom.attr.${String(i).padStart(3, '0')}`, `v${i}`));
    const root = { traceId, spanId, name: 'wide', startTimeUnixNano: at(0), endTimeUnixNano: at(1), attributes, droppedAttributesCount: 5 };
    const body = jsonExport([root]);
    body.resourceSpans[0].resource.attributes = Array.from({ length: 130 }, (_, i) => str(`res.${i}`, 'x'));
    const res = await post(JSON.stringify(body), 'application/json');
    expect(res.status).toBe(200);
    expect(JSON.parse((res.body as Buffer).toString()).partialSuccess).toEqual({
      rejectedSpans: '0',
      errorMessage: expect.stringMatching(/72 attribute\(s\) of 1 span\(s\) dropped.*at most 128/),
    });
    const step = await request(t.http)
      .get(`/v1/steps/${stepIdOf(project.id, traceId, spanId)}`)
      .set('Authorization', `Bearer ${project.key}`);
    expect(Object.keys(step.body.metadata.attributes)).toHaveLength(128);
    expect(step.body.metadata.attributes).toHaveProperty(['custom.attr.127'], 'v127');
    expect(step.body.metadata.attributes).not.toHaveProperty(['custom.attr.128']);
    expect(step.body.metadata.otel.droppedAttributes).toBe(72 + 5);
    const run = await getRun(runIdOf(project.id, traceId));
    expect(Object.keys(run.body.metadata.otel.resource)).toHaveLength(128);
    expect(run.body.metadata.otel.droppedResourceAttributes).toBe(2);
  });

  it('gives each project its own run for the same trace id', async () => {
    const { traceId, spans } = ragTrace(5);
    expect((await postJson(Object.values(spans))).status).toBe(200);
    expect((await postJson(Object.values(spans), other.key)).status).toBe(200);
    const mine = runIdOf(project.id, traceId);
    const theirs = runIdOf(other.id, traceId);
    expect(mine).not.toBe(theirs);
    expect((await getRun(mine)).status).toBe(200);
    expect((await getRun(theirs, other.key)).status).toBe(200);
    expect((await getRun(theirs)).status).toBe(404);
  });

  it('refuses what cannot be decoded (400 google.rpc.Status in the request encoding), 401, 413 and 415', async () => {
    const badProto = await post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/x-protobuf');
    expect(badProto.status).toBe(400);
    expect(badProto.headers['content-type']).toMatch(/application\/x-protobuf/);
    expect(OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(badProto.body as Buffer))).toMatchObject({ code: 3, message: expect.stringMatching(/protobuf/) });

    const badJson = await post('{"resourceSpans": [', 'application/json');
    expect(badJson.status).toBe(400);
    expect(JSON.parse((badJson.body as Buffer).toString())).toMatchObject({ code: 3, message: expect.any(String) });

    const noKey = await post(protobufExport([ragTrace(6).spans.root]), 'application/x-protobuf', null);
    expect(noKey.status).toBe(401);
    expect(OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(noKey.body as Buffer))).toMatchObject({ code: 16 });

    const bomb = gzipSync(Buffer.alloc(t.config.maxBodyBytes + (1 << 20)));
    const tooLarge = await post(bomb, 'application/x-protobuf', project.key, 'gzip');
    expect(tooLarge.status).toBe(413);

    expect((await post('hello', 'text/plain')).status).toBe(415);
    const { traceId, spans } = ragTrace(8);
    const slash = await request(t.http)
      .post('/V1/Traces/')
      .set('Authorization', `Bearer ${project.key}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(jsonExport([spans.root])));
    expect(slash.status).toBe(200);
    expect((await getRun(runIdOf(project.id, traceId))).status).toBe(200);
    expect(await stepCount(project.id)).toBeGreaterThan(0);
  });
});
