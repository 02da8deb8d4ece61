import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { AppError } from '../common/app-error.js';
import { checkJson } from '../common/json-limits.js';
import { failedEvent, readEvent } from '../ingest/ingest-envelope.js';
import { IngestRepository } from '../ingest/ingest.repository.js';
import { IngestWriter } from '../ingest/ingest.writer.js';
import { StepsRepository } from '../steps/steps.repository.js';
import { type DecodedTraces, decodeTraces, type OtlpEncoding, type OtlpSpan } from './otlp-decode.js';
import { MAX_METADATA_ATTRIBUTES, mapSpans, runIdOf, stepIdOf } from './otlp-mapping.js';

export interface Rejection {
  rejectedSpans: number;
  errorMessage: string;
}

/**
 * OTLP spans in: mapped to ingest events (otlp-mapping.ts), each validated like a /v1/ingest
 * event, and applied by the ingest writer, so both ways in share its guarantees. Events are
 * written in order in chunks of XRAY_MAX_EVENTS_PER_BATCH (each chunk whole or not at all; a
 * retried export replays what was written).
 */
@Injectable()
export class OtlpService {
  constructor(
    private readonly writer: IngestWriter,
    private readonly repository: IngestRepository,
    private readonly dataSource: DataSource,
    private readonly steps: StepsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * One export as received (OTLP/HTTP or gRPC): decoded (400 when it cannot be), refused whole
   * past XRAY_OTLP_MAX_SPANS spans (413: nothing of it is stored), then stored.
   */
  async receive(projectId: string, body: Buffer, encoding: OtlpEncoding): Promise<Rejection | undefined> {
    const decoded = decodeTraces(body, encoding);
    const count = decoded.spans.length + decoded.rejectedSpans;
    if (count > this.config.otlpMaxSpans) {
      throw new AppError(
        413,
        'TOO_MANY_SPANS',
        `The export carries ${count} spans, more than the ${this.config.otlpMaxSpans} one export may carry (XRAY_OTLP_MAX_SPANS); nothing was stored: export in smaller batches`,
      );
    }
    return this.export(projectId, decoded);
  }

  /** Stores the spans; answers what was rejected and why, or undefined when everything was kept. */
  async export(projectId: string, decoded: DecodedTraces): Promise<Rejection | undefined> {
    const messages = [...decoded.rejections];
    let rejected = decoded.rejectedSpans;
    if (decoded.spans.length > 0) {
      const runs = [...new Set(decoded.spans.map((s) => runIdOf(projectId, s.traceId)))];
      const parents = [...new Set(decoded.spans.flatMap((s) => (s.parentSpanId ? [stepIdOf(projectId, s.traceId, s.parentSpanId)] : [])))];
      const stored = await this.repository.findStoredState(this.dataSource, projectId, { events: [], runs, steps: parents });
      const mapped = mapSpans(projectId, decoded.spans, new Set(stored.runOwners.keys()), new Set(stored.stepOwners.keys()));
      const limits = { maxDepth: this.config.maxJsonDepth, maxStringLength: this.config.maxStringLength };
      const events = await Promise.all(
        mapped.events.map((m) => {
          // The limits a /v1/ingest body is held to (XRAY_MAX_JSON_DEPTH, XRAY_MAX_STRING_LENGTH), per event.
          const violation = checkJson(m.event.body, limits);
          if (!violation) return readEvent(m.event, this.config.maxCandidatesPerRequest);
          const what =
            violation.kind === 'string'
              ? `a value longer than ${limits.maxStringLength} characters`
              : violation.kind === 'depth'
                ? `a value nested deeper than ${limits.maxDepth} levels`
                : 'a "__proto__" key';
          return { eventId: m.event.id, failure: failedEvent(m.event.id, 413, 'VALUE_TOO_LARGE', `The span carries ${what} (at ${violation.path})`) };
        }),
      );
      // A span is kept whole or not at all: when one of its events is refused, so are the others.
      const spanKey = (i: number) => `${mapped.events[i].traceId}:${mapped.events[i].spanId}`;
      const refused = new Set(events.flatMap((e, i) => (e.failure && mapped.events[i].spanId ? [spanKey(i)] : [])));
      events.forEach((e, i) => {
        if (!e.failure && mapped.events[i].spanId && refused.has(spanKey(i))) {
          events[i] = { eventId: e.eventId, failure: failedEvent(e.eventId, 400, 'SPAN_REFUSED', 'Another part of this span was refused') };
        }
      });
      const failedSpans = new Set<string>();
      const failedTraces = new Set<string>();
      for (let start = 0; start < events.length; start += this.config.maxEventsPerBatch) {
        const chunk = events.slice(start, start + this.config.maxEventsPerBatch);
        const results = await this.writer.write(projectId, chunk);
        results.forEach((result, i) => {
          if (result.status < 400) return;
          const { traceId, spanId } = mapped.events[start + i];
          if (spanId) failedSpans.add(`${traceId}:${spanId}`);
          else failedTraces.add(traceId);
          if (messages.length < 5)
            messages.push(`${spanId ? `span ${spanId}` : 'trace'} of trace ${traceId}: ${result.error?.message ?? `status ${result.status}`}`);
        });
      }
      await this.attachWaitingChildren(projectId, decoded.spans, failedSpans);
      rejected += decoded.spans.filter((s) => failedTraces.has(s.traceId) || failedSpans.has(`${s.traceId}:${s.spanId}`)).length;
      if (mapped.orphans > 0) {
        messages.push(`${mapped.orphans} span(s) stored as top-level steps: their parent span has not been received (they move under it when it arrives)`);
      }
      if (mapped.droppedAttributes > 0) {
        messages.push(
          `${mapped.droppedAttributes} attribute(s) of ${mapped.spansWithDroppedAttributes} span(s) dropped: a step's metadata keeps at most ${MAX_METADATA_ATTRIBUTES} attributes of its span (counted in metadata.otel.droppedAttributes)`,
        );
      }
    }
    if (rejected === 0 && messages.length === 0) return undefined;
    return { rejectedSpans: rejected, errorMessage: messages.join('; ').slice(0, 2000) };
  }

  /**
   * Children stored before their parent (top-level steps waiting for it) move under it now that
   * the parent's span has arrived: the spans of this request are the parents they may wait for.
   */
  private async attachWaitingChildren(projectId: string, spans: readonly OtlpSpan[], failed: ReadonlySet<string>): Promise<void> {
    const parents = spans.flatMap((s) => (failed.has(`${s.traceId}:${s.spanId}`) ? [] : [{ traceId: s.traceId, spanId: s.spanId }]));
    const traceOfRun = new Map(parents.map((p) => [runIdOf(projectId, p.traceId), p.traceId]));
    const named = parents.map((p) => ({ runId: runIdOf(projectId, p.traceId), spanId: p.spanId }));
    // Most exports find none waiting: one read, and no transaction.
    const waiting = await this.steps.findWaitingForParent(projectId, named);
    if (waiting.length === 0) return;
    await this.dataSource.transaction(async (db) => {
      for (const w of waiting) {
        await this.steps.attachToParent(projectId, w.runId, w.id, stepIdOf(projectId, traceOfRun.get(w.runId)!, w.parentSpanId), db);
      }
    });
  }
}
