import { isISO8601, isUUID } from 'class-validator';
import { validateCandidateBatch } from '../candidates/candidate-batch.validator.js';
import type { CandidateInputDto } from '../candidates/candidates.dto.js';
import { AppError, type ErrorDetail } from '../common/app-error.js';
import { describeError } from '../common/describe-error.js';
import { errorBody } from '../common/error-body.js';
import { validateDto } from '../common/validation.js';
import { CreateRunDto, UpdateRunDto } from '../runs/runs.dto.js';
import { CreateScoreDto } from '../scores/scores.dto.js';
import { CreateStepDto, UpdateStepDto } from '../steps/steps.dto.js';
import { EVENT_TYPES, type EventType, type IngestResultDto } from './ingest.dto.js';

/**
 * The envelope of a /v1/ingest batch, read without the database: the batch's shape (whose
 * failures fail the request), then each event on its own (whose failures fail only it).
 * Another way in (OpenTelemetry spans) produces the same {@link IngestEvent}s.
 */

/** What a valid event does, on which ids. */
export type Operation =
  | { kind: 'run-create'; id: string; dto: CreateRunDto & { id: string } }
  | { kind: 'run-update'; id: string; dto: UpdateRunDto }
  | { kind: 'step-create'; id: string; runId: string; dto: CreateStepDto & { id: string } }
  | { kind: 'step-update'; id: string; dto: UpdateStepDto }
  | { kind: 'candidates-create'; stepId: string; candidates: CandidateInputDto[] }
  | { kind: 'score-create'; id: string; dto: CreateScoreDto & { id: string } };

/** One event of a batch after reading: an operation to apply, or the reason it cannot be. */
export interface IngestEvent {
  readonly eventId: string;
  /** When the event happened on the client (stands in for implicit start and end times). */
  readonly eventTime?: Date;
  readonly operation?: Operation;
  /** Set when the event is invalid; then there is no operation. */
  readonly failure?: IngestResultDto;
}

export interface EnvelopeLimits {
  maxEventsPerBatch: number;
  maxCandidatesPerRequest: number;
}

const EVENT_KEYS = new Set(['id', 'type', 'timestamp', 'body']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export const failedEvent = (id: string, status: number, error: string, message: string, details?: ErrorDetail[]): IngestResultDto => ({
  id,
  status,
  error: errorBody(status, error, message, details),
});

/** The envelope must be sound enough to answer per event; anything else fails the request. */
export function readEnvelope(body: unknown, limits: EnvelopeLimits): Record<string, unknown>[] {
  const invalid = (message: string, details?: ErrorDetail[]) => new AppError(400, 'VALIDATION_FAILED', message, details);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be an object { events: [...] }');
  const extra = Object.keys(body).filter((k) => k !== 'events');
  if (extra.length)
    throw invalid(
      `property ${extra[0]} should not exist`,
      extra.map((k) => ({ field: k, message: `property ${k} should not exist` })),
    );
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events)) throw invalid('events must be an array', [{ field: 'events', message: 'events must be an array' }]);
  if (events.length === 0) throw invalid('events must contain at least 1 event', [{ field: 'events', message: 'events must not be empty' }]);
  const max = limits.maxEventsPerBatch;
  if (events.length > max) {
    throw new AppError(413, 'TOO_MANY_EVENTS', `A batch may carry at most ${max} events (XRAY_MAX_EVENTS_PER_BATCH); got ${events.length}. Split it.`);
  }
  const details: ErrorDetail[] = [];
  events.forEach((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) details.push({ field: `events.${i}`, message: 'an event must be an object' });
    else if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 200) {
      details.push({ field: `events.${i}.id`, message: 'id must be a non-empty string of at most 200 characters' });
    } else if (e.id.includes('\u0000') || !(e.id as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      // PostgreSQL cannot store NUL, and a lone surrogate would be stored as U+FFFD, making distinct ids collide.
      details.push({ field: `events.${i}.id`, message: 'id must be valid Unicode text without NUL characters' });
    }
  });
  if (details.length) throw invalid('Every event needs an id so its result can be reported', details.slice(0, 20));
  return events as Record<string, unknown>[];
}

/** Reads the envelope and every event in it (a repeated event id is read once, where it first appears). */
export async function readBatch(body: unknown, limits: EnvelopeLimits): Promise<IngestEvent[]> {
  const raw = readEnvelope(body, limits);
  const first = new Map<string, Promise<IngestEvent>>();
  return Promise.all(
    raw.map((event) => {
      const id = event.id as string;
      const read = first.get(id);
      if (read) return read.then((e) => ({ ...e, eventId: id }));
      const parsed = readEvent(event, limits.maxCandidatesPerRequest);
      first.set(id, parsed);
      return parsed;
    }),
  );
}

/** Validates one event: its envelope fields, then its body against the matching endpoint's DTO. */
export async function readEvent(event: Record<string, unknown>, maxCandidates: number): Promise<IngestEvent> {
  const eventId = event.id as string;
  const invalid = (details: ErrorDetail[]): IngestEvent => ({
    eventId,
    failure: failedEvent(
      eventId,
      400,
      'VALIDATION_FAILED',
      details.length === 1 ? `${details[0].field}: ${details[0].message}` : `${details.length} fields are invalid`,
      details,
    ),
  });
  const extra = Object.keys(event).filter((k) => !EVENT_KEYS.has(k));
  if (extra.length) return invalid(extra.map((k) => ({ field: k, message: `property ${k} should not exist` })));
  const type = event.type as EventType;
  if (!EVENT_TYPES.includes(type)) return invalid([{ field: 'type', message: `type must be one of: ${EVENT_TYPES.join(', ')}` }]);
  let eventTime: Date | undefined;
  if (event.timestamp !== undefined) {
    // The same rule as every date-time field of the DTOs (no 2024-02-30, no year 0).
    const time =
      typeof event.timestamp === 'string' && ISO.test(event.timestamp) && isISO8601(event.timestamp, { strict: true, strictSeparator: true })
        ? new Date(event.timestamp)
        : undefined;
    if (!time || Number.isNaN(time.getTime())) return invalid([{ field: 'timestamp', message: 'timestamp must be an ISO 8601 date-time' }]);
    eventTime = time;
  }
  const body = event.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid([{ field: 'body', message: 'body must be an object' }]);
  const { id: entityId, runId, stepId, ...rest } = body as Record<string, unknown>;
  const needUuid = (field: string, value: unknown): ErrorDetail[] =>
    typeof value === 'string' && isUUID(value) ? [] : [{ field: `body.${field}`, message: `${field} must be a UUID` }];
  const checkDto = async <T extends object>(cls: new () => T, plain: object, idDetails: ErrorDetail[]) => {
    const result = await validateDto(cls, plain);
    const details = [...idDetails, ...(result.details ?? []).map((d) => ({ ...d, field: `body.${d.field}` }))];
    return details.length ? { details } : { value: result.value! };
  };
  const unexpected = (names: string[]) =>
    names.filter((n) => (body as Record<string, unknown>)[n] !== undefined).map((n) => ({ field: `body.${n}`, message: `property ${n} should not exist` }));
  const ok = (operation: Operation): IngestEvent => ({ eventId, eventTime, operation });
  const idRequired = () => invalid([{ field: 'body.id', message: 'id is required in a batch so retries stay idempotent' }]);

  switch (type) {
    case 'run-create': {
      const r = await checkDto(CreateRunDto, { ...rest, ...(entityId !== undefined ? { id: entityId } : {}) }, unexpected(['runId', 'stepId']));
      if (r.details) return invalid(r.details);
      if (!r.value.id) return idRequired();
      return ok({ kind: type, id: r.value.id, dto: r.value as CreateRunDto & { id: string } });
    }
    case 'run-update': {
      const r = await checkDto(UpdateRunDto, rest, [...needUuid('id', entityId), ...unexpected(['runId', 'stepId'])]);
      if (r.details) return invalid(r.details);
      return ok({ kind: type, id: entityId as string, dto: r.value });
    }
    case 'step-create': {
      const r = await checkDto(CreateStepDto, { ...rest, ...(entityId !== undefined ? { id: entityId } : {}) }, [
        ...needUuid('runId', runId),
        ...unexpected(['stepId']),
      ]);
      if (r.details) return invalid(r.details);
      if (!r.value.id) return idRequired();
      return ok({ kind: type, id: r.value.id, runId: runId as string, dto: r.value as CreateStepDto & { id: string } });
    }
    case 'step-update': {
      const r = await checkDto(UpdateStepDto, rest, [...needUuid('id', entityId), ...unexpected(['runId', 'stepId'])]);
      if (r.details) return invalid(r.details);
      return ok({ kind: type, id: entityId as string, dto: r.value });
    }
    case 'candidates-create': {
      const idDetails = [...needUuid('stepId', stepId), ...unexpected(['id', 'runId'])];
      if (idDetails.length) return invalid(idDetails);
      try {
        return ok({ kind: type, stepId: stepId as string, candidates: validateCandidateBatch(rest, maxCandidates) });
      } catch (err) {
        const described = describeError(err);
        if (!described) throw err;
        const details = described.body.details?.map((d) => ({ ...d, field: `body.${d.field}` }));
        return { eventId, failure: failedEvent(eventId, described.body.statusCode, described.body.error, described.body.message, details) };
      }
    }
    case 'score-create': {
      const r = await checkDto(CreateScoreDto, body, []);
      if (r.details) return invalid(r.details);
      if (!r.value.id) return idRequired();
      return ok({ kind: type, id: r.value.id, dto: r.value as CreateScoreDto & { id: string } });
    }
  }
}
