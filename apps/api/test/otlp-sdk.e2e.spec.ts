import { Metadata } from '@grpc/grpc-js';
import { diag, DiagLogLevel, ROOT_CONTEXT, type Span, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { OtlpGrpcServer } from '../src/otlp/otlp-grpc.server.js';
import { runIdOf, stepIdOf } from '../src/otlp/otlp-mapping.js';
import { createTestApp, type TestApp } from './harness.js';

/**
 * The real OpenTelemetry JS SDK and its three trace exporters (protobuf over HTTP, JSON over
 * HTTP, gRPC) against the server listening on ports: spans are recorded by the SDK, then sent by
 * the exporter in the order and batches an application's exporter would (children first, a
 * trace over several exports), and every mapped field is read back through the REST API.
 */

type Transport = 'http/protobuf' | 'http/json' | 'grpc';

/** The ended spans of a tracer, recorded in memory, keyed by name. */
function recorder(service: string) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment.name': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('xray-otlp-test', '1.0.0');
  const spans = () => new Map(memory.getFinishedSpans().map((s) => [s.name, s]));
  return { tracer, spans, shutdown: () => provider.shutdown() };
}

const child = (tracer: Tracer, parent: Span, name: string, attributes: Record<string, string | number | string[]>) =>
  tracer.startSpan(name, { attributes }, trace.setSpan(ROOT_CONTEXT, parent));

/** OpenInference RAG: chain → retriever, reranker, LLM. */
function ragTrace(tracer: Tracer) {
  const chain = tracer.startSpan('rag-chain', {
    attributes: {
      'openinference.span.kind': 'CHAIN',
      'input.value': '{"question":"Which stand for a 16-inch laptop?"}',
      'input.mime_type': 'application/json',
      'session.id': 'sess-42',
      'user.id': 'user-7',
      'tag.tags': ['rag', 'beta'],
    },
  });
  const retriever = child(tracer, chain, 'retrieve-docs', {
    'openinference.span.kind': 'RETRIEVER',
    'input.value': 'laptop stand 16-inch',
    'retrieval.documents.0.document.id': 'doc-1',
    'retrieval.documents.0.document.score': 0.92,
    'retrieval.documents.0.document.content': 'Aluminium stand fits 12-17 inch',
    'retrieval.documents.0.document.metadata': '{"source":"catalog"}',
    'retrieval.documents.1.document.id': 'doc-2',
    'retrieval.documents.1.document.score': 0.71,
    'retrieval.documents.2.document.id': 'doc-3',
    'retrieval.documents.2.document.score': 0.4,
  });
  retriever.end();
  const reranker = child(tracer, chain, 'rerank', {
    'openinference.span.kind': 'RERANKER',
    'reranker.top_k': 2,
    'reranker.input_documents.0.document.id': 'doc-1',
    'reranker.input_documents.1.document.id': 'doc-2',
    'reranker.input_documents.2.document.id': 'doc-3',
    'reranker.output_documents.0.document.id': 'doc-2',
    'reranker.output_documents.0.document.score': 0.98,
    'reranker.output_documents.1.document.id': 'doc-1',
    'reranker.output_documents.1.document.score': 0.9,
  });
  reranker.end();
  const llm = child(tracer, chain, 'llm-answer', {
    'openinference.span.kind': 'LLM',
    'llm.input_messages.0.message.role': 'system',
    'llm.input_messages.0.message.content': 'Answer from the documents.',
    'llm.input_messages.1.message.role': 'user',
    'llm.input_messages.1.message.content': 'Which stand for a 16-inch laptop?',
    'llm.output_messages.0.message.role': 'assistant',
    'llm.output_messages.0.message.content': 'The aluminium stand (doc-2).',
  });
  llm.end();
  chain.setAttribute('output.value', 'The aluminium stand (doc-2).');
  chain.setStatus({ code: SpanStatusCode.OK });
  chain.end();
}

/** GenAI agent: invoke_agent → chat (asks for a tool), execute_tool, chat (answers). */
function chatTrace(tracer: Tracer) {
  const agent = tracer.startSpan('invoke_agent weather', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.workflow.name': 'weather-agent', 'gen_ai.conversation.id': 'conv-9' },
  });
  const first = child(tracer, agent, 'chat first', {
    'gen_ai.operation.name': 'chat',
    'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'You are a weather bot.' }]),
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] }]),
    'gen_ai.output.messages': JSON.stringify([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call-1', name: 'get_weather', arguments: { city: 'Paris' } }], finish_reason: 'tool_call' },
    ]),
  });
  first.end();
  const tool = child(tracer, agent, 'execute_tool get_weather', {
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': 'get_weather',
    'gen_ai.tool.call.id': 'call-1',
    'traceloop.entity.input': '{"city":"Paris"}',
    'traceloop.entity.output': '{"forecast":"sunny","celsius":21}',
  });
  tool.end();
  const second = child(tracer, agent, 'chat second', {
    'gen_ai.operation.name': 'chat',
    'gen_ai.prompt.0.role': 'tool',
    'gen_ai.prompt.0.content': '{"forecast":"sunny"}',
    'gen_ai.completion.0.role': 'assistant',
    'gen_ai.completion.0.content': 'Sunny, 21 °C.',
  });
  second.end();
  agent.end();
}

/** Plain spans: a request handler whose database call fails with an exception event. */
function plainTrace(tracer: Tracer) {
  const handler = tracer.startSpan('GET /orders', { attributes: { 'http.request.method': 'GET', 'url.path': '/orders' } });
  const query = child(tracer, handler, 'SELECT orders', { 'db.system.name': 'postgresql' });
  const err = new Error('relation "orders" does not exist');
  err.name = 'DatabaseError';
  query.recordException(err);
  query.setStatus({ code: SpanStatusCode.ERROR, message: 'query failed' });
  query.end();
  handler.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream failed' });
  handler.end();
}

/**
 * What the exporters report through OpenTelemetry's diagnostic logger: a partial success (spans
 * the server refused) is only a warning there, and the export still counts as a success.
 */
const exporterWarnings: string[] = [];
diag.setLogger(
  {
    error: (...args: unknown[]) => void exporterWarnings.push(args.map(String).join(' ')),
    warn: (...args: unknown[]) => void exporterWarnings.push(args.map(String).join(' ')),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  },
  DiagLogLevel.WARN,
);

/** A warning that says spans were lost: a partial success with rejected spans, or anything else. */
const refusal = (warning: string): boolean => {
  const partial = /^Received Partial Success response: (\{.*\})$/.exec(warning);
  if (!partial) return true;
  return Number((JSON.parse(partial[1]) as { rejectedSpans?: string | number }).rejectedSpans ?? 0) > 0;
};

/** One export; it fails when the exporter fails or the server refused any of its spans. */
const send = async (exporter: SpanExporter, spans: ReadableSpan[]) => {
  const before = exporterWarnings.length;
  await new Promise<void>((resolve, reject) =>
    exporter.export(spans, (result) => (result.code === 0 ? resolve() : reject(result.error ?? new Error(`export failed: ${result.code}`)))),
  );
  expect(exporterWarnings.slice(before).filter(refusal)).toEqual([]);
};

describe('OTLP with the OpenTelemetry JS SDK and exporters', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  let httpPort: number;
  let grpcPort: number;

  beforeAll(async () => {
    t = await createTestApp({ XRAY_OTLP_GRPC_PORT: '0' });
    await t.app.listen(0, '127.0.0.1');
    httpPort = (t.app.getHttpServer().address() as AddressInfo).port;
    grpcPort = t.app.get(OtlpGrpcServer).port!;
    project = await t.newProject('otel-sdk');
  }, 180_000);
  afterAll(async () => t?.close());

  const exporter = (transport: Transport, gzip: boolean): SpanExporter => {
    const compression = (gzip ? 'gzip' : 'none') as never;
    if (transport === 'grpc') {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${project.key}`);
      return new GrpcExporter({ url: `http://127.0.0.1:${grpcPort}`, metadata, compression });
    }
    const options = { url: `http://127.0.0.1:${httpPort}/v1/traces`, headers: { Authorization: `Bearer ${project.key}` }, compression };
    return transport === 'http/protobuf' ? new ProtoExporter(options) : new JsonExporter(options);
  };
  const get = async (path: string) => {
    const res = await request(t.http).get(path).set('Authorization', `Bearer ${project.key}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const ids = (s: ReadableSpan) => ({ traceId: s.spanContext().traceId, spanId: s.spanContext().spanId });
  const stepOf = (s: ReadableSpan) => stepIdOf(project.id, ids(s).traceId, ids(s).spanId);
  const stepCount = async () => Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM steps WHERE project_id = $1', [project.id]))[0].n);

  describe.each<Transport>(['http/protobuf', 'http/json', 'grpc'])('over %s', (transport) => {
    it('stores an OpenInference RAG trace sent gzipped in two exports, children first, and a re-export adds nothing', async () => {
      const rec = recorder('rag-service');
      ragTrace(rec.tracer);
      const spans = rec.spans();
      const out = exporter(transport, true);
      // As a batch processor would: the ended children first, the root in a later export.
      await send(out, [spans.get('retrieve-docs')!, spans.get('rerank')!, spans.get('llm-answer')!]);
      await send(out, [spans.get('rag-chain')!]);
      const chain = spans.get('rag-chain')!;
      const runId = runIdOf(project.id, ids(chain).traceId);
      const run = await get(`/v1/runs/${runId}`);
      expect(run).toMatchObject({
        pipeline: 'rag-chain',
        status: 'success',
        input: { question: 'Which stand for a 16-inch laptop?' },
        output: 'The aluminium stand (doc-2).',
        tags: ['rag', 'beta'],
        metadata: { sessionId: 'sess-42', userId: 'user-7', otel: { resource: { 'service.name': 'rag-service' } } },
        stepCount: 4,
      });
      expect(run.steps).toHaveLength(1);
      expect(run.steps[0]).toMatchObject({ id: stepOf(chain), type: 'custom', name: 'rag-chain' });
      expect(run.steps[0].children.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([
        ['retrieve-docs', 'retrieval'],
        ['rerank', 'rank'],
        ['llm-answer', 'llm'],
      ]);

      const retrieved = await get(`/v1/steps/${stepOf(spans.get('retrieve-docs')!)}/candidates`);
      expect(retrieved.items).toMatchObject([
        { key: 'doc-1', decision: 'accepted', rank: 1, score: 0.92, data: { content: 'Aluminium stand fits 12-17 inch', metadata: { source: 'catalog' } } },
        { key: 'doc-2', decision: 'accepted', rank: 2, score: 0.71 },
        { key: 'doc-3', decision: 'accepted', rank: 3, score: 0.4 },
      ]);
      const reranked = await get(`/v1/steps/${stepOf(spans.get('rerank')!)}/candidates`);
      const byKey = Object.fromEntries(reranked.items.map((c: { key: string }) => [c.key, c]));
      expect(byKey).toMatchObject({
        'doc-2': { decision: 'selected', rank: 1, score: 0.98 },
        'doc-1': { decision: 'selected', rank: 2, score: 0.9 },
        'doc-3': { decision: 'rejected', reason: "not in the reranker's top 2" },
      });
      const llm = await get(`/v1/steps/${stepOf(spans.get('llm-answer')!)}`);
      expect(llm).toMatchObject({
        type: 'llm',
        parentStepId: stepOf(chain),
        input: [
          { role: 'system', content: 'Answer from the documents.' },
          { role: 'user', content: 'Which stand for a 16-inch laptop?' },
        ],
        output: [{ role: 'assistant', content: 'The aluminium stand (doc-2).' }],
        metadata: { otel: { scope: { name: 'xray-otlp-test', version: '1.0.0' } } },
      });
      expect(llm.metadata.otel).not.toHaveProperty('parentMissing');

      const before = await stepCount();
      await send(out, [...spans.values()]);
      expect(await stepCount()).toBe(before);
      expect(await get(`/v1/runs/${runId}`)).toEqual(run);
      await out.shutdown();
      await rec.shutdown();
    });

    it('stores a GenAI chat trace with a tool call', async () => {
      const rec = recorder('agent-service');
      chatTrace(rec.tracer);
      const spans = rec.spans();
      const out = exporter(transport, false);
      await send(out, [...spans.values()]);
      const agent = spans.get('invoke_agent weather')!;
      const run = await get(`/v1/runs/${runIdOf(project.id, ids(agent).traceId)}`);
      expect(run).toMatchObject({ pipeline: 'weather-agent', status: 'success', metadata: { sessionId: 'conv-9' }, stepCount: 4 });
      expect(run.steps[0].children.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([
        ['chat first', 'llm'],
        ['execute_tool get_weather', 'tool'],
        ['chat second', 'llm'],
      ]);
      expect(await get(`/v1/steps/${stepOf(spans.get('chat first')!)}`)).toMatchObject({
        input: [
          { role: 'system', parts: [{ type: 'text', content: 'You are a weather bot.' }] },
          { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
        ],
        output: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call-1', name: 'get_weather', arguments: { city: 'Paris' } }] }],
      });
      expect(await get(`/v1/steps/${stepOf(spans.get('execute_tool get_weather')!)}`)).toMatchObject({
        input: { city: 'Paris' },
        output: { forecast: 'sunny', celsius: 21 },
        metadata: { attributes: { 'gen_ai.tool.name': 'get_weather', 'gen_ai.tool.call.id': 'call-1' } },
      });
      expect(await get(`/v1/steps/${stepOf(spans.get('chat second')!)}`)).toMatchObject({
        input: [{ role: 'tool', content: '{"forecast":"sunny"}' }],
        output: [{ role: 'assistant', content: 'Sunny, 21 °C.' }],
      });
      await out.shutdown();
      await rec.shutdown();
    });

    it('stores a plain-span trace whose error span carries an exception event', async () => {
      const rec = recorder('orders-api');
      plainTrace(rec.tracer);
      const spans = rec.spans();
      const out = exporter(transport, transport !== 'http/json');
      await send(out, [spans.get('SELECT orders')!]);
      await send(out, [spans.get('GET /orders')!]);
      const handler = spans.get('GET /orders')!;
      const run = await get(`/v1/runs/${runIdOf(project.id, ids(handler).traceId)}`);
      expect(run).toMatchObject({ pipeline: 'GET /orders', status: 'error', error: { message: 'upstream failed' }, stepCount: 2 });
      expect(run.steps[0]).toMatchObject({ type: 'custom', status: 'error', error: { message: 'upstream failed' } });
      const query = await get(`/v1/steps/${stepOf(spans.get('SELECT orders')!)}`);
      expect(query).toMatchObject({
        parentStepId: stepOf(handler),
        status: 'error',
        error: { type: 'DatabaseError', message: 'relation "orders" does not exist', stack: expect.stringContaining('DatabaseError') },
        metadata: { attributes: { 'db.system.name': 'postgresql' }, otel: { kind: 1 } },
      });
      await out.shutdown();
      await rec.shutdown();
    });
  });
});
