import { createHash } from 'node:crypto';
import { STEP_TYPES } from '../domain/vocabulary.js';
import { candidatesOf, isDocumentAttribute } from './otlp-candidates.js';
import type { Attributes, OtlpSpan, OtlpValue } from './otlp-decode.js';
import { evaluationScores, isEvaluationAttribute } from './otlp-evaluations.js';
import { spanLlmFields } from './otlp-llm.js';
import { messagesIo } from './otlp-messages.js';

/**
 * From OTLP spans to /v1/ingest events (pure, no database): a trace becomes a run, a span a
 * step nested under its parent span's step. Ids are derived from (project, trace id, span id),
 * and event ids from the spans too, so a re-export of the same spans is answered as a replay
 * and changes nothing.
 */

/** A UUID (version 5 layout) from a SHA-1 of the parts: the same parts always give the same id. */
export function derivedUuid(...parts: string[]): string {
  const hash = createHash('sha1')
    .update(`xray-otlp\u0000${parts.join('\u0000')}`)
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const runIdOf = (projectId: string, traceId: string) => derivedUuid(projectId, traceId);
export const stepIdOf = (projectId: string, traceId: string, spanId: string) => derivedUuid(projectId, traceId, spanId);

/** An event in the /v1/ingest envelope, and the span it came from (undefined for the run's). */
export interface MappedEvent {
  event: { id: string; type: string; timestamp?: string; body: Record<string, unknown> };
  spanId?: string;
  traceId: string;
}

export interface MappedTraces {
  events: MappedEvent[];
  /** Spans whose parent span is neither in the request nor stored: kept as top-level steps. */
  orphans: number;
  /** Attributes left out of step metadata past MAX_METADATA_ATTRIBUTES, and the spans they came from. */
  droppedAttributes: number;
  spansWithDroppedAttributes: number;
}

const MAX_NAME = 200;
const clip = (s: string) => (s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s);
const text = (v: OtlpValue | undefined): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const iso = (nanos: bigint): string => new Date(Number(nanos / 1_000_000n)).toISOString();

/** Attributes moved into fields of their own; the rest go to metadata. */
const MAPPED = new Set([
  'input.value',
  'input.mime_type',
  'output.value',
  'output.mime_type',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'traceloop.entity.input',
  'traceloop.entity.output',
  'xray.step.type',
  'xray.step.reasoning',
  'xray.pipeline',
  'xray.candidates',
]);

const OPENINFERENCE_KINDS: Record<string, string> = {
  LLM: 'llm',
  RETRIEVER: 'retrieval',
  RERANKER: 'rank',
  TOOL: 'tool',
  GUARDRAIL: 'filter',
  EMBEDDING: 'transform',
  PROMPT: 'transform',
};
const GENAI_OPERATIONS: Record<string, string> = {
  chat: 'llm',
  text_completion: 'llm',
  generate_content: 'llm',
  retrieval: 'retrieval',
  execute_tool: 'tool',
  embeddings: 'transform',
};

/** Step type: OpenInference span kind, else the GenAI operation, else `xray.step.type`, else custom. */
export function stepType(attributes: Attributes): string {
  const kind = text(attributes['openinference.span.kind']);
  if (kind) return OPENINFERENCE_KINDS[kind.toUpperCase()] ?? 'custom';
  const operation = text(attributes['gen_ai.operation.name']);
  if (operation && GENAI_OPERATIONS[operation]) return GENAI_OPERATIONS[operation];
  const explicit = text(attributes['xray.step.type']);
  return explicit && (STEP_TYPES as readonly string[]).includes(explicit) ? explicit : 'custom';
}

/**
 * Pipeline name: `xray.pipeline` (span or resource), the GenAI workflow name, OpenLLMetry's
 * workflow name, the root span's name, the resource's `service.name`. Spans are looked at root
 * first.
 */
export function pipelineOf(spans: readonly OtlpSpan[], root: OtlpSpan | undefined): string {
  const ordered = root ? [root, ...spans.filter((s) => s !== root)] : spans;
  for (const key of ['xray.pipeline', 'gen_ai.workflow.name', 'traceloop.workflow.name']) {
    for (const s of ordered) {
      const found = text(s.attributes[key]) ?? (key === 'xray.pipeline' ? text(s.resource[key]) : undefined);
      if (found) return clip(found);
    }
  }
  if (root && root.name.trim()) return clip(root.name);
  return clip(text(ordered[0]?.resource['service.name']) ?? 'otel');
}

/** Input and output (otlp-messages.ts); `used` collects the attributes they came from. */
const io = (attributes: Attributes, which: 'input' | 'output', used = new Set<string>()): unknown => messagesIo(attributes, which, used);

/** Status ERROR → the step's error, from the last `exception` event, else the status message. */
function errorOf(span: OtlpSpan): { type?: string; message: string; stack?: string } | undefined {
  if (span.status.code !== 2) return undefined;
  const exception = [...span.events].reverse().find((e) => e.name === 'exception')?.attributes ?? {};
  const type = text(exception['exception.type']) ?? text(span.attributes['error.type']);
  const stack = text(exception['exception.stacktrace']);
  return {
    ...(type ? { type: clip(type) } : {}),
    message: (text(exception['exception.message']) ?? span.status.message ?? 'The span ended with status ERROR').slice(0, 10_000),
    ...(stack ? { stack } : {}),
  };
}

/**
 * At most this many attributes of a span (those not mapped to fields) are kept in its step's
 * metadata, and of a resource in its run's, the first ones in the order received; the rest are
 * dropped and counted (`otel.droppedAttributes`, with those the exporter dropped already).
 */
export const MAX_METADATA_ATTRIBUTES = 128;

/** The first MAX_METADATA_ATTRIBUTES entries, and how many were left out. */
function bounded(entries: [string, OtlpValue][]): { kept: Attributes; dropped: number } {
  return { kept: Object.fromEntries(entries.slice(0, MAX_METADATA_ATTRIBUTES)), dropped: Math.max(0, entries.length - MAX_METADATA_ATTRIBUTES) };
}

/** The step's metadata: the span's ids and kind, and its attributes but those in `used` or `llm` (mapped to fields of the step). */
function metadataOf(
  span: OtlpSpan,
  orphan: boolean,
  used: ReadonlySet<string>,
  llm: ReadonlySet<string>,
): { metadata: Record<string, unknown>; dropped: number } {
  const { kept: attributes, dropped } = bounded(
    Object.entries(span.attributes).filter(([k]) => !MAPPED.has(k) && !used.has(k) && !llm.has(k) && !isDocumentAttribute(k) && !isEvaluationAttribute(k)),
  );
  const droppedAttributes = dropped + (span.droppedAttributesCount ?? 0);
  const metadata = {
    otel: {
      traceId: span.traceId,
      spanId: span.spanId,
      ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
      ...(orphan ? { parentMissing: true } : {}),
      kind: span.kind,
      ...(span.scope.name ? { scope: { name: span.scope.name, ...(span.scope.version ? { version: span.scope.version } : {}) } } : {}),
      ...(droppedAttributes ? { droppedAttributes } : {}),
    },
    ...(Object.keys(attributes).length ? { attributes } : {}),
  };
  return { metadata, dropped };
}

/**
 * The run's metadata: the trace id and the resource's attributes, and the session and user ids
 * (OpenInference `session.id` / `user.id`, GenAI `gen_ai.conversation.id`) as top-level string
 * keys the runs filter can match (`metadata[sessionId]=…`).
 */
function runMetadataOf(spans: readonly OtlpSpan[], root: OtlpSpan | undefined): Record<string, unknown> {
  const ordered = root ? [root, ...spans] : spans;
  const first = (...keys: string[]) => {
    for (const s of ordered) for (const k of keys) if (text(s.attributes[k])) return clip(text(s.attributes[k])!);
    return undefined;
  };
  const sessionId = first('session.id', 'gen_ai.conversation.id');
  const userId = first('user.id');
  const resource = bounded(Object.entries(ordered[0].resource));
  return {
    otel: { traceId: ordered[0].traceId, resource: resource.kept, ...(resource.dropped ? { droppedResourceAttributes: resource.dropped } : {}) },
    ...(sessionId ? { sessionId } : {}),
    ...(userId ? { userId } : {}),
  };
}

/** Run tags: OpenInference `tag.tags` of the root span (strings, at most 50 of 100 characters). */
function tagsOf(root: OtlpSpan): string[] {
  const tags = root.attributes['tag.tags'];
  if (!Array.isArray(tags)) return [];
  return [...new Set(tags.filter((t): t is string => typeof t === 'string' && t !== '').map((t) => t.slice(0, 100)))].slice(0, 50);
}

/** Parents before children, siblings by start time (a parent missing from the request counts as absent). */
function parentsFirst(spans: readonly OtlpSpan[]): OtlpSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map<string, OtlpSpan[]>();
  const tops: OtlpSpan[] = [];
  for (const s of [...spans].sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0))) {
    const parent = s.parentSpanId && s.parentSpanId !== s.spanId ? byId.get(s.parentSpanId) : undefined;
    if (!parent) tops.push(s);
    else if (children.has(parent.spanId)) children.get(parent.spanId)!.push(s);
    else children.set(parent.spanId, [s]);
  }
  const out: OtlpSpan[] = [];
  const seen = new Set<string>();
  const stack = [...tops].reverse();
  while (stack.length) {
    const s = stack.pop()!;
    if (seen.has(s.spanId)) continue;
    seen.add(s.spanId);
    out.push(s);
    const kids = children.get(s.spanId) ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
  // Spans in a parent cycle are never reached from a top: kept, as top-level steps.
  for (const s of spans) if (!seen.has(s.spanId)) out.push({ ...s, parentSpanId: undefined });
  return out;
}

/**
 * The events for the spans of one request. `storedRuns` and `storedSteps` are the derived ids
 * the project holds already: a run is created from a later part of its trace only when it does
 * not exist yet (so a part without the root never renames it), and a child whose parent span is
 * stored is nested under it.
 */
export function mapSpans(projectId: string, spans: readonly OtlpSpan[], storedRuns: ReadonlySet<string>, storedSteps: ReadonlySet<string>): MappedTraces {
  const traces = new Map<string, OtlpSpan[]>();
  const taken = new Set<string>();
  for (const s of spans) {
    // A span repeated in the request is taken once (the first).
    if (taken.has(`${s.traceId}:${s.spanId}`)) continue;
    taken.add(`${s.traceId}:${s.spanId}`);
    const list = traces.get(s.traceId);
    if (list) list.push(s);
    else traces.set(s.traceId, [s]);
  }
  const events: MappedEvent[] = [];
  let orphans = 0;
  let droppedAttributes = 0;
  let spansWithDroppedAttributes = 0;
  for (const [traceId, list] of traces) {
    const runId = runIdOf(projectId, traceId);
    const root = list.find((s) => !s.parentSpanId);
    const earliest = list.reduce((a, b) => (b.startTimeUnixNano < a.startTimeUnixNano ? b : a));
    const prefix = `otlp:${traceId}`;
    if (root) {
      events.push({
        traceId,
        event: {
          id: `${prefix}:${root.spanId}:run`,
          type: 'run-create',
          body: {
            id: runId,
            pipeline: pipelineOf(list, root),
            startedAt: iso(root.startTimeUnixNano),
            ...(io(root.attributes, 'input') !== undefined ? { input: io(root.attributes, 'input') } : {}),
            metadata: runMetadataOf(list, root),
            ...(tagsOf(root).length ? { tags: tagsOf(root) } : {}),
          },
        },
      });
      const error = errorOf(root);
      events.push({
        traceId,
        event: {
          id: `${prefix}:${root.spanId}:run-end`,
          type: 'run-update',
          // The root's end as the event's time, not as endedAt: the run then ends then, but never
          // before its start. Spans carry their own clocks: when the children arrived first, the
          // run started at the earliest child, which skew (another host, or the SDK's per-span
          // clock anchoring) can put after the root's end; an explicit endedAt would be refused.
          timestamp: iso(root.endTimeUnixNano),
          body: {
            id: runId,
            status: error ? 'error' : 'success',
            ...(error ? { error } : {}),
            ...(io(root.attributes, 'output') !== undefined ? { output: io(root.attributes, 'output') } : {}),
          },
        },
      });
    } else if (!storedRuns.has(runId)) {
      events.push({
        traceId,
        event: {
          id: `${prefix}:run-started`,
          type: 'run-create',
          body: { id: runId, pipeline: pipelineOf(list, undefined), startedAt: iso(earliest.startTimeUnixNano), metadata: runMetadataOf(list, undefined) },
        },
      });
    }
    const inRequest = new Set(list.map((s) => s.spanId));
    for (const span of parentsFirst(list)) {
      const stepId = stepIdOf(projectId, traceId, span.spanId);
      const parentStepId = span.parentSpanId ? stepIdOf(projectId, traceId, span.parentSpanId) : undefined;
      const attached = span.parentSpanId !== undefined && (inRequest.has(span.parentSpanId) || storedSteps.has(parentStepId!));
      const orphan = span.parentSpanId !== undefined && !attached;
      if (orphan) orphans++;
      const used = new Set<string>();
      const input = io(span.attributes, 'input', used);
      const output = io(span.attributes, 'output', used);
      const reasoning = text(span.attributes['xray.step.reasoning']);
      const error = errorOf(span);
      const llm = spanLlmFields(span.attributes);
      const { metadata, dropped } = metadataOf(span, orphan, used, llm.mapped);
      if (dropped > 0) {
        droppedAttributes += dropped;
        spansWithDroppedAttributes++;
      }
      events.push({
        traceId,
        spanId: span.spanId,
        event: {
          id: `${prefix}:${span.spanId}:step`,
          type: 'step-create',
          body: {
            id: stepId,
            runId,
            ...(attached ? { parentStepId } : {}),
            name: clip(span.name.trim() || '(unnamed span)'),
            type: stepType(span.attributes),
            ...llm.fields,
            ...(input !== undefined ? { input } : {}),
            ...(reasoning ? { reasoning } : {}),
            metadata,
            startedAt: iso(span.startTimeUnixNano),
          },
        },
      });
      const candidates = candidatesOf(span.attributes);
      if (candidates.length) {
        events.push({
          traceId,
          spanId: span.spanId,
          event: { id: `${prefix}:${span.spanId}:candidates`, type: 'candidates-create', body: { stepId, candidates } },
        });
      }
      events.push({
        traceId,
        spanId: span.spanId,
        event: {
          id: `${prefix}:${span.spanId}:step-end`,
          type: 'step-update',
          body: {
            id: stepId,
            status: error ? 'error' : 'success',
            ...(output !== undefined ? { output } : {}),
            ...(error ? { error } : {}),
            endedAt: iso(span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano : span.startTimeUnixNano),
          },
        },
      });
      // Evaluation results on the span: scores of its step (otlp-evaluations.ts).
      for (const body of evaluationScores(span, stepId, (name, key) => derivedUuid(projectId, traceId, span.spanId, 'evaluation', name, key ?? ''))) {
        events.push({ traceId, spanId: span.spanId, event: { id: `${prefix}:${span.spanId}:score:${body.id as string}`, type: 'score-create', body } });
      }
    }
  }
  return { events, orphans, droppedAttributes, spansWithDroppedAttributes };
}
