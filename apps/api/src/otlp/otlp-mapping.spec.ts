import { isUUID } from 'class-validator';
import type { OtlpSpan } from './otlp-decode.js';
import { derivedUuid, mapSpans, pipelineOf, runIdOf, stepIdOf, stepType } from './otlp-mapping.js';

const P = '0193f2a4-6c1e-7b3a-9f2d-5e8c1a7b4d21';
const TRACE = 'ab'.repeat(16);

const span = (spanId: string, parentSpanId?: string, over: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: TRACE,
  spanId,
  parentSpanId,
  name: `span-${spanId}`,
  kind: 1,
  startTimeUnixNano: 1764547200000000000n + BigInt(parseInt(spanId, 16)) * 1_000_000n,
  endTimeUnixNano: 1764547201000000000n,
  attributes: {},
  events: [],
  status: { code: 0 },
  resource: { 'service.name': 'svc' },
  scope: {},
  ...over,
});
const id = (n: number) => n.toString(16).padStart(16, '0');

describe('OTLP span mapping', () => {
  it('derives the same valid UUID from the same parts, another from another project', () => {
    const a = stepIdOf(P, TRACE, id(1));
    expect(isUUID(a)).toBe(true);
    expect(a[14]).toBe('5');
    expect(stepIdOf(P, TRACE, id(1))).toBe(a);
    expect(stepIdOf('0193f2a4-6c1e-7b3a-9f2d-000000000000', TRACE, id(1))).not.toBe(a);
    expect(runIdOf(P, TRACE)).not.toBe(a);
    expect(derivedUuid('a', 'bc')).not.toBe(derivedUuid('ab', 'c'));
  });

  it('types steps from OpenInference, then GenAI, then xray.step.type', () => {
    expect(stepType({ 'openinference.span.kind': 'RETRIEVER', 'gen_ai.operation.name': 'chat' })).toBe('retrieval');
    expect(stepType({ 'openinference.span.kind': 'RERANKER' })).toBe('rank');
    expect(stepType({ 'openinference.span.kind': 'GUARDRAIL' })).toBe('filter');
    expect(stepType({ 'openinference.span.kind': 'PROMPT' })).toBe('transform');
    expect(stepType({ 'openinference.span.kind': 'CHAIN', 'xray.step.type': 'filter' })).toBe('custom');
    expect(stepType({ 'gen_ai.operation.name': 'generate_content' })).toBe('llm');
    expect(stepType({ 'gen_ai.operation.name': 'execute_tool' })).toBe('tool');
    expect(stepType({ 'gen_ai.operation.name': 'invoke_agent', 'xray.step.type': 'rank' })).toBe('rank');
    expect(stepType({ 'xray.step.type': 'nonsense' })).toBe('custom');
    expect(stepType({})).toBe('custom');
  });

  it('names the pipeline from xray.pipeline, the workflow names, the root span, service.name, in that order', () => {
    const root = span(id(1));
    const child = span(id(2), id(1), { attributes: { 'traceloop.workflow.name': 'tl' } });
    expect(pipelineOf([root, child], root)).toBe('tl');
    expect(pipelineOf([root, { ...child, attributes: { ...child.attributes, 'gen_ai.workflow.name': 'wf' } }], root)).toBe('wf');
    expect(pipelineOf([{ ...root, resource: { 'xray.pipeline': 'mine' } }, child], root)).toBe('mine');
    expect(pipelineOf([root], root)).toBe(`span-${id(1)}`);
    expect(pipelineOf([span(id(2), id(1))], undefined)).toBe('svc');
  });

  it('writes parents before children whatever the order received, and marks children whose parent is missing', () => {
    const spans = [span(id(4), id(3)), span(id(3), id(1)), span(id(2), id(9)), span(id(1))];
    const { events, orphans } = mapSpans(P, spans, new Set(), new Set());
    const creates = events.filter((e) => e.event.type === 'step-create').map((e) => e.spanId);
    expect(events[0].event).toMatchObject({ type: 'run-create', body: { id: runIdOf(P, TRACE), pipeline: `span-${id(1)}` } });
    expect(creates.indexOf(id(1))).toBeLessThan(creates.indexOf(id(3)));
    expect(creates.indexOf(id(3))).toBeLessThan(creates.indexOf(id(4)));
    expect(orphans).toBe(1);
    const orphan = events.find((e) => e.spanId === id(2) && e.event.type === 'step-create')!.event.body;
    expect(orphan).not.toHaveProperty('parentStepId');
    expect(orphan.metadata).toMatchObject({ otel: { parentSpanId: id(9), parentMissing: true } });
  });

  it('nests under a stored parent, and leaves a stored run alone when the root is not in the request', () => {
    const { events, orphans } = mapSpans(P, [span(id(5), id(1))], new Set([runIdOf(P, TRACE)]), new Set([stepIdOf(P, TRACE, id(1))]));
    expect(orphans).toBe(0);
    expect(events.map((e) => e.event.type)).toEqual(['step-create', 'step-update']);
    expect(events[0].event.body.parentStepId).toBe(stepIdOf(P, TRACE, id(1)));
  });

  it("gives the run the root span's tags, the resource, and session and user ids from any span", () => {
    const root = span(id(1), undefined, { attributes: { 'tag.tags': ['beta', 'beta', 7, 'eu'] } });
    const child = span(id(2), id(1), { attributes: { 'session.id': 's-1', 'user.id': 'u-1' } });
    const run = mapSpans(P, [child, root], new Set(), new Set()).events[0].event.body;
    expect(run).toMatchObject({
      tags: ['beta', 'eu'],
      metadata: { otel: { traceId: TRACE, resource: { 'service.name': 'svc' } }, sessionId: 's-1', userId: 'u-1' },
    });
  });

  it('takes input and output from GenAI messages, else from OpenLLMetry entities, parsing JSON text', () => {
    const genAi = span(id(1), undefined, {
      attributes: { 'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]', 'traceloop.entity.output': '{"answer":42}' },
    });
    const events = mapSpans(P, [genAi], new Set(), new Set()).events;
    const create = events.find((e) => e.event.type === 'step-create')!.event.body;
    expect(create.input).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'hi' }] }]);
    expect(create.metadata).not.toHaveProperty(['attributes', 'gen_ai.input.messages']);
    expect(events.find((e) => e.event.type === 'step-update')!.event.body.output).toEqual({ answer: 42 });
  });

  it('maps 100,000 spans of one parent in linear time', () => {
    // Linear, not quadratic: ten times the spans takes about ten times as long (a quadratic
    // mapping would take ~100 times). A ratio, not a wall-clock bound, so a busy machine
    // slows both sizes alike instead of failing the test.
    const timed = (n: number) => {
      const spans = [span(id(1)), ...Array.from({ length: n }, (_, i) => span(id(i + 2), id(1)))].reverse();
      const started = process.hrtime.bigint();
      const { events } = mapSpans(P, spans, new Set(), new Set());
      return { events, ns: Number(process.hrtime.bigint() - started) };
    };
    timed(10_000); // warm-up
    const small = timed(10_000);
    const { events, ns } = timed(100_000);
    expect(events.filter((e) => e.event.type === 'step-create')).toHaveLength(100_001);
    expect(events.find((e) => e.event.type === 'step-create')!.spanId).toBe(id(1));
    expect(ns / small.ns).toBeLessThan(30);
  });

  it('keeps spans of a parent cycle as top-level steps', () => {
    const { events } = mapSpans(P, [span(id(1)), span(id(2), id(3)), span(id(3), id(2))], new Set(), new Set());
    const creates = events.filter((e) => e.event.type === 'step-create');
    expect(creates).toHaveLength(3);
    expect(creates.filter((e) => e.event.body.parentStepId === undefined)).toHaveLength(3);
  });

  it('maps status ERROR and the exception event to the step error, and JSON input by its mime type', () => {
    const failing = span(id(1), undefined, {
      attributes: { 'input.value': '{"q":1}', 'input.mime_type': 'application/json', 'output.value': 'text' },
      status: { code: 2, message: 'bad' },
      events: [{ name: 'exception', timeUnixNano: 1n, attributes: { 'exception.type': 'E', 'exception.message': 'm', 'exception.stacktrace': 's' } }],
    });
    const { events } = mapSpans(P, [failing], new Set(), new Set());
    expect(events.find((e) => e.event.type === 'run-update')!.event.body).toMatchObject({
      status: 'error',
      error: { type: 'E', message: 'm' },
      output: 'text',
    });
    expect(events.find((e) => e.event.type === 'step-create')!.event.body).toMatchObject({ input: { q: 1 } });
    expect(events.find((e) => e.event.type === 'step-update')!.event.body).toMatchObject({
      status: 'error',
      output: 'text',
      error: { type: 'E', message: 'm', stack: 's' },
    });
  });
});
