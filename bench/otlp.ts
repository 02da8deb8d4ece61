/**
 * Benchmark 8, OTLP in: spans/s through POST /v1/traces (protobuf, 100 spans per request,
 * OpenInference-shaped RAG traces with realistic attributes: documents, messages, model and
 * token attributes, session and tags) beside POST /v1/ingest carrying the same content, the
 * ingest events the receiver maps those spans to, 100 spans' worth per batch. Both paths are
 * driven the same way (fixed concurrency, one request per 100 spans, fresh traces each round).
 * Figures: spans/s, ingest events/s and spans' worth/s, p50/p99 per request.
 * Targets: OTLP spans/s ≥ 80% of the ingest path's events/s; p99 of a 100-span request < 100 ms.
 */
import { decodeTraces } from '../apps/api/src/otlp/otlp-decode.js';
import { mapSpans } from '../apps/api/src/otlp/otlp-mapping.js';
import { OTLP } from '../apps/api/src/otlp/otlp-schema.js';
import pg from 'pg';
import { startApi } from './lib/api.js';
import { createDatabase } from './lib/database.js';
import { type BenchContext, type ComparisonResult, fmtNumber, printComparisons } from './lib/report.js';
import { percentile } from './lib/stats.js';

export interface OtlpFigures {
  comparisons: ComparisonResult[];
  spansPerSecond: number[];
  ingestEventsPerSecond: number[];
  ingestSpansPerSecond: number[];
  eventsPerSpan: number;
  p50Ms: number;
  p99Ms: number;
  ingestP99Ms: number;
}

const SPANS_PER_REQUEST = 100;
const SPANS_PER_TRACE = 10;
const CONCURRENCY = 4;
const BASE_NS = BigInt(Date.UTC(2026, 11, 1, 12)) * 1_000_000n;

const attr = (key: string, value: string | number | string[]) => ({
  key,
  value:
    typeof value === 'string'
      ? { stringValue: value }
      : typeof value === 'number'
        ? Number.isInteger(value)
          ? { intValue: value }
          : { doubleValue: value }
        : { arrayValue: { values: value.map((v) => ({ stringValue: v })) } },
});

const hexId = (n: number, bytes: number) => Buffer.from(n.toString(16).padStart(bytes * 2, '0'), 'hex');

/** One RAG trace of ten spans: chain → embed, retrieve (10 documents), rerank (top 3), LLM, 4 tool calls, guardrail. */
function traceSpans(round: number, trace: number) {
  const traceNo = round * 1_000_000 + trace + 1;
  const traceId = hexId(traceNo, 16);
  const id = (n: number) => hexId(traceNo * 16 + n, 8);
  const t = (ms: number) => String(BASE_NS + BigInt(trace * 1000 + ms) * 1_000_000n);
  const question = `Which laptop stand fits a ${12 + (trace % 6)}-inch laptop and costs under $${30 + (trace % 40)}?`;
  const docs = Array.from({ length: 10 }, (_, d) => [
    attr(`retrieval.documents.${d}.document.id`, `doc-${(trace * 7 + d) % 5000}`),
    attr(`retrieval.documents.${d}.document.score`, 0.95 - d * 0.05),
    attr(`retrieval.documents.${d}.document.content`, `Adjustable aluminium stand model ${d}, fits 10-17 inch laptops, $${25 + d * 3}.`),
    attr(`retrieval.documents.${d}.document.metadata`, `{"source":"catalog","page":${d}}`),
  ]).flat();
  const child = (n: number, name: string, startMs: number, endMs: number, attributes: ReturnType<typeof attr>[]) => ({
    traceId,
    spanId: id(n),
    parentSpanId: id(1),
    name,
    kind: 1,
    startTimeUnixNano: t(startMs),
    endTimeUnixNano: t(endMs),
    attributes,
    status: { code: 1 },
  });
  return [
    child(2, 'embed-query', 1, 8, [
      attr('openinference.span.kind', 'EMBEDDING'),
      attr('embedding.model_name', 'text-embedding-3-small'),
      attr('input.value', question),
    ]),
    child(3, 'retrieve', 8, 40, [attr('openinference.span.kind', 'RETRIEVER'), attr('input.value', question), ...docs]),
    child(4, 'rerank', 40, 60, [
      attr('openinference.span.kind', 'RERANKER'),
      attr('reranker.model_name', 'cross-encoder'),
      attr('reranker.top_k', 3),
      ...Array.from({ length: 10 }, (_, d) => attr(`reranker.input_documents.${d}.document.id`, `doc-${(trace * 7 + d) % 5000}`)),
      ...Array.from({ length: 3 }, (_, d) => [
        attr(`reranker.output_documents.${d}.document.id`, `doc-${(trace * 7 + d * 2) % 5000}`),
        attr(`reranker.output_documents.${d}.document.score`, 0.9 - d * 0.1),
      ]).flat(),
    ]),
    child(5, 'generate-answer', 60, 900, [
      attr('openinference.span.kind', 'LLM'),
      attr('llm.model_name', 'gpt-4o-mini'),
      attr('llm.provider', 'openai'),
      attr('llm.invocation_parameters', '{"temperature":0.2,"max_tokens":512}'),
      attr('llm.input_messages.0.message.role', 'system'),
      attr('llm.input_messages.0.message.content', 'Answer from the documents only. Cite the document ids.'),
      attr('llm.input_messages.1.message.role', 'user'),
      attr('llm.input_messages.1.message.content', question),
      attr('llm.output_messages.0.message.role', 'assistant'),
      attr('llm.output_messages.0.message.content', `The stand doc-${(trace * 7) % 5000} fits and costs $28.`),
      attr('llm.token_count.prompt', 812),
      attr('llm.token_count.completion', 64),
      attr('llm.token_count.total', 876),
    ]),
    ...[6, 7, 8, 9].map((n) =>
      child(n, `tool-${n}`, 100 + n, 120 + n, [
        attr('openinference.span.kind', 'TOOL'),
        attr('tool.name', `price-check-${n}`),
        attr('input.value', `{"sku":"doc-${n}"}`),
        attr('input.mime_type', 'application/json'),
        attr('output.value', `{"price":${20 + n},"inStock":true}`),
        attr('output.mime_type', 'application/json'),
      ]),
    ),
    child(10, 'guardrail', 900, 910, [attr('openinference.span.kind', 'GUARDRAIL'), attr('output.value', 'pass')]),
    // The root ends last, so exporters send it last.
    {
      traceId,
      spanId: id(1),
      name: 'rag-answer',
      kind: 2,
      startTimeUnixNano: t(0),
      endTimeUnixNano: t(920),
      attributes: [
        attr('openinference.span.kind', 'CHAIN'),
        attr('input.value', `{"question":${JSON.stringify(question)}}`),
        attr('input.mime_type', 'application/json'),
        attr('output.value', `The stand doc-${(trace * 7) % 5000} fits and costs $28.`),
        attr('session.id', `session-${trace % 97}`),
        attr('user.id', `user-${trace % 31}`),
        attr('tag.tags', ['bench', 'rag']),
        attr('metadata', '{"experiment":"otlp-bench"}'),
      ],
      status: { code: 1 },
    },
  ];
}

/** One export of 100 spans (ten traces), protobuf-encoded. */
function exportBody(round: number, request: number): Buffer {
  const spans = Array.from({ length: SPANS_PER_REQUEST / SPANS_PER_TRACE }, (_, k) => traceSpans(round, request * 10 + k)).flat();
  const message = OTLP.ExportTraceServiceRequest.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [attr('service.name', 'bench-rag'), attr('service.version', '1.4.2'), attr('deployment.environment.name', 'bench')] },
        scopeSpans: [{ scope: { name: 'openinference.instrumentation.langchain', version: '0.1.30' }, spans }],
      },
    ],
  });
  return Buffer.from(OTLP.ExportTraceServiceRequest.encode(message).finish());
}

/** The same content for /v1/ingest: the events the receiver maps those spans to. */
function ingestBody(projectId: string, body: Buffer): { json: string; events: number } {
  const { events } = mapSpans(projectId, decodeTraces(body, 'protobuf').spans, new Set(), new Set());
  return { json: JSON.stringify({ events: events.map((e) => e.event) }), events: events.length };
}

async function drive<T>(items: T[], send: (item: T) => Promise<number>): Promise<{ ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) latencies.push(await send(items[next++]));
    }),
  );
  return { ms: performance.now() - started, latencies };
}

export async function benchOtlp(ctx: BenchContext): Promise<OtlpFigures> {
  const { log } = ctx;
  const requestsPerRound = ctx.smoke ? 2 : 60;
  const roundCount = ctx.rounds ?? (ctx.smoke ? 1 : 3);
  const db = await createDatabase(ctx.adminUrl, 'otlp');
  const api = await startApi({ databaseUrl: db.url, mode: ctx.mode, env: { XRAY_RATE_LIMIT: '0' } });
  const client = new pg.Client({ connectionString: db.url });
  try {
    const otlpKey = await api.newProject('bench-otlp');
    const ingestKey = await api.newProject('bench-otlp-ingest');
    await client.connect();
    // The ingest project's id: the derived ids of the mapped events are the ones its receiver would use.
    const keyInfo = await fetch(`${api.baseUrl}/v1/auth/key`, { headers: { authorization: `Bearer ${ingestKey}` } });
    const ingestProject = ((await keyInfo.json()) as { projectId: string }).projectId;

    const postTraces = async (body: Buffer) => {
      const t = performance.now();
      const res = await fetch(`${api.baseUrl}/v1/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${otlpKey}`, 'content-type': 'application/x-protobuf' },
        body: new Uint8Array(body),
      });
      const answer = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || answer.length !== 0)
        throw new Error(`/v1/traces answered ${res.status} (${answer.length} bytes): ${answer.toString().slice(0, 300)}`);
      return performance.now() - t;
    };
    const postIngest = async (json: string) => {
      const t = performance.now();
      const res = await fetch(`${api.baseUrl}/v1/ingest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
        body: json,
      });
      const text = await res.text();
      if (res.status !== 207 || /"status":[45]\d\d/.test(text)) throw new Error(`/v1/ingest answered ${res.status}: ${text.slice(0, 300)}`);
      return performance.now() - t;
    };

    // Warm-up (round 0), then measured rounds of fresh traces.
    const bodies = (round: number) => Array.from({ length: Math.min(requestsPerRound, round === 0 ? 10 : requestsPerRound) }, (_, r) => exportBody(round, r));
    const warm = bodies(0);
    await drive(warm, postTraces);
    await drive(
      warm.map((b) => ingestBody(ingestProject, b).json),
      postIngest,
    );

    const spanRates: number[] = [];
    const eventRates: number[] = [];
    const ingestSpanRates: number[] = [];
    const otlpLatencies: number[] = [];
    const ingestLatencies: number[] = [];
    let eventsPerSpan = 0;
    for (let r = 1; r <= roundCount; r++) {
      const exports = bodies(r);
      const ingest = exports.map((b) => ingestBody(ingestProject, b));
      const spans = exports.length * SPANS_PER_REQUEST;
      const events = ingest.reduce((s, b) => s + b.events, 0);
      eventsPerSpan = events / spans;
      await client.query('CHECKPOINT');
      const viaOtlp = await drive(exports, postTraces);
      await client.query('CHECKPOINT');
      const viaIngest = await drive(
        ingest.map((b) => b.json),
        postIngest,
      );
      spanRates.push(spans / (viaOtlp.ms / 1000));
      eventRates.push(events / (viaIngest.ms / 1000));
      ingestSpanRates.push(spans / (viaIngest.ms / 1000));
      otlpLatencies.push(...viaOtlp.latencies);
      ingestLatencies.push(...viaIngest.latencies);
      log(
        `  round ${r}/${roundCount}: /v1/traces ${fmtNumber(spans / (viaOtlp.ms / 1000))} spans/s (p99 ${percentile(viaOtlp.latencies, 99).toFixed(1)} ms); ` +
          `/v1/ingest ${fmtNumber(events / (viaIngest.ms / 1000))} events/s = ${fmtNumber(spans / (viaIngest.ms / 1000))} spans' worth/s (p99 ${percentile(viaIngest.latencies, 99).toFixed(1)} ms)`,
      );
    }
    const [{ steps }] = (await client.query<{ steps: number }>('SELECT count(*)::int AS steps FROM steps')).rows;
    const expectedSteps = 2 * (Math.min(requestsPerRound, 10) + roundCount * requestsPerRound) * SPANS_PER_REQUEST;
    if (steps !== expectedSteps) throw new Error(`expected ${expectedSteps} steps stored by both paths, found ${steps}`);

    const p50 = percentile(otlpLatencies, 50);
    const p99 = percentile(otlpLatencies, 99);
    const ingestP99 = percentile(ingestLatencies, 99);
    log(
      `${requestsPerRound} requests of ${SPANS_PER_REQUEST} spans (${SPANS_PER_REQUEST / SPANS_PER_TRACE} RAG traces, 40 candidates each) per round, ${CONCURRENCY} in flight; ` +
        `the same content as /v1/ingest is ${eventsPerSpan.toFixed(2)} events per span; ${roundCount} rounds`,
    );
    const comparisons = printComparisons(log, [
      {
        metric: 'POST /v1/traces',
        unit: 'spans/s',
        values: spanRates,
        baseline: 'POST /v1/ingest events/s',
        baselineValues: eventRates,
        higherIsBetter: true,
        targetRatio: 0.8,
      },
      {
        metric: 'POST /v1/traces',
        unit: 'spans/s',
        values: spanRates,
        baseline: "POST /v1/ingest, spans' worth/s",
        baselineValues: ingestSpanRates,
        higherIsBetter: true,
      },
    ]);
    log(
      `/v1/traces request latency over ${otlpLatencies.length} requests: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (target p99 < 100 ms: ${p99 < 100 ? 'met' : 'MISSED'}); ` +
        `/v1/ingest p99 ${ingestP99.toFixed(1)} ms`,
    );
    return {
      comparisons,
      spansPerSecond: spanRates,
      ingestEventsPerSecond: eventRates,
      ingestSpansPerSecond: ingestSpanRates,
      eventsPerSpan,
      p50Ms: p50,
      p99Ms: p99,
      ingestP99Ms: ingestP99,
    };
  } finally {
    await client.end().catch(() => undefined);
    await api.stop();
    await db.drop();
  }
}
