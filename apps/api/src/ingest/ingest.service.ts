import { Inject, Injectable } from '@nestjs/common';
import { isISO8601, isUUID } from 'class-validator';
import { DataSource, type EntityManager } from 'typeorm';
import { CandidatesService } from '../candidates/candidates.service.js';
import type { CandidateInputDto } from '../candidates/candidates.dto.js';
import { validateCandidateBatch } from '../candidates/candidate-batch.validator.js';
import { AppError, type ErrorDetail, notFound } from '../common/app-error.js';
import { type ErrorBody, errorBody } from '../common/error-body.js';
import { describeError } from '../common/http-exception.filter.js';
import { validateDto } from '../common/validation.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Queryable } from '../database/queryable.js';
import type { AppConfig } from '../config/config.js';
import { CreateRunDto, UpdateRunDto } from '../runs/runs.dto.js';
import { RunsService } from '../runs/runs.service.js';
import { CreateStepDto, UpdateStepDto } from '../steps/steps.dto.js';
import { StepsService } from '../steps/steps.service.js';
import { EVENT_TYPES, type EventType, type IngestResultDto } from './ingest.dto.js';

/** What the database held when the batch was resolved: run and step owners by id. */
interface StoredBefore {
  runOwners: Map<string, { projectId: string; pipeline: string }>;
  stepOwners: Map<string, { projectId: string; runId: string }>;
}

/** A batch's transaction, and whether its writes run under savepoints (see IngestService.ingest). */
class BatchDb implements Queryable {
  constructor(
    private readonly manager: EntityManager,
    readonly careful: boolean,
  ) {}
  query<T = any>(text: string, params?: unknown[]): Promise<T> {
    return this.manager.query(text, params);
  }
}

/** Steps whose create waits for the in-order pass (a replay, or a parent not stored yet): what concerns them waits too. */
function waitingSteps(slots: Slot[]): Set<string> {
  return new Set(slots.filter((s) => s.sequential && !s.result && s.parsed?.kind === 'step-create').map((s) => (s.parsed as { id: string }).id));
}

/** The update an event carries, for an insert to apply (see foldableUpdates). */
function updateOf<D>(slot: Slot | undefined): { dto: D; eventTime?: Date } | undefined {
  return slot ? { dto: (slot.parsed as unknown as { dto: D }).dto, eventTime: slot.eventTime } : undefined;
}

/** A folded update's result, once its row is inserted. */
function settle(slot: Slot | undefined): void {
  if (slot) slot.result = { id: slot.eventId, status: 200 };
}

/** Thrown out of a try without savepoints when a write failed in a way only some events should. */
class ApplyCarefully extends Error {}

/**
 * A write that failed for some events, not the request: a value the database refused (4xx), a
 * parent gone or not there yet (23503), or an event's own 4xx raised between its statements.
 */
function recoverable(err: unknown): boolean {
  if ((err as { code?: string }).code === '23503') return true;
  const described = describeError(err);
  return described !== undefined && described.body.statusCode < 500;
}

/** An event after validation: what to do, on which ids. */
type Parsed =
  | { kind: 'run-create'; id: string; dto: CreateRunDto & { id: string } }
  | { kind: 'run-update'; id: string; dto: UpdateRunDto }
  | { kind: 'step-create'; id: string; runId: string; dto: CreateStepDto & { id: string } }
  | { kind: 'step-update'; id: string; dto: UpdateStepDto }
  | { kind: 'candidates-create'; stepId: string; candidates: CandidateInputDto[] };

interface Slot {
  eventId: string;
  eventTime?: Date;
  result?: IngestResultDto;
  parsed?: Parsed;
  /** Applied one by one, in order, after the grouped writes. */
  sequential?: boolean;
}

const EVENT_KEYS = new Set(['id', 'type', 'timestamp', 'body']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const failed = (id: string, status: number, error: string, message: string, details?: ErrorDetail[]): IngestResultDto => ({
  id,
  status,
  error: errorBody(status, error, message, details),
});

/**
 * The batch endpoint. Events are validated and checked one by one in order (so one bad event
 * fails alone, and an event whose parent is missing at its position gets a 404 to retry);
 * then the writes are grouped: all new runs in one statement, all new steps in one, all
 * candidates in one, and only the rest (updates, replays of existing ids) one by one.
 */
@Injectable()
export class IngestService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly runs: RunsService,
    private readonly steps: StepsService,
    private readonly candidates: CandidatesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async ingest(projectId: string, body: unknown): Promise<IngestResultDto[]> {
    const events = this.readEnvelope(body);
    // One transaction per request: a batch is stored whole or not at all, so a crash, an outage
    // or a timeout mid-batch leaves nothing half-written; the client's retry applies it whole.
    // First without savepoints (the common case: every write goes through). If the database
    // refuses a write for a reason that fails only some events, that try is rolled back and
    // the batch applied again with a savepoint around each write, so just those events fail.
    try {
      return await this.dataSource.transaction((manager) => this.apply(new BatchDb(manager, false), projectId, events));
    } catch (err) {
      if (!(err instanceof ApplyCarefully)) throw err;
      return this.dataSource.transaction((manager) => this.apply(new BatchDb(manager, true), projectId, events));
    }
  }

  private async apply(db: BatchDb, projectId: string, events: Record<string, unknown>[]): Promise<IngestResultDto[]> {
    const slots: Slot[] = events.map((e) => ({ eventId: e.id as string }));

    // 1. Validate each event on its own (a repeated event id once).
    const firstInBatch = new Map<string, Slot>();
    await Promise.all(
      events.map(async (event, i) => {
        const slot = slots[i];
        if (firstInBatch.has(slot.eventId)) return;
        firstInBatch.set(slot.eventId, slot);
        const problem = await this.parse(event, slot);
        if (problem) slot.result = problem;
      }),
    );

    // 2. One round trip for what the database already holds: events applied before (they
    // answer as they did) and the owners of every run and step the events name.
    const stored = await this.lookUp(db, projectId, slots);

    // 3. Check references in order against the database and the batch itself.
    this.resolve(projectId, slots, stored);

    // 4. Grouped writes, then the rest in order.
    await this.writeNewRuns(db, projectId, slots);
    const counted = await this.writeNewSteps(db, projectId, slots, stored);
    await this.writeCandidates(db, projectId, slots, counted);
    await this.writeUpdates(db, projectId, slots);
    for (const slot of slots) if (slot.sequential && !slot.result) slot.result = await this.applyOne(db, projectId, slot);

    // Duplicates of an event id within the batch answer like their first occurrence.
    for (const slot of slots) if (!slot.result) slot.result = { ...firstInBatch.get(slot.eventId)!.result!, id: slot.eventId };

    await this.remember(db, projectId, slots);
    return slots.map((s) => s.result!);
  }

  /** The envelope must be sound enough to answer per event; anything else fails the request. */
  private readEnvelope(body: unknown): Record<string, unknown>[] {
    const invalid = (message: string, details?: ErrorDetail[]) => new AppError(400, 'VALIDATION_FAILED', message, details);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be an object { events: [...] }');
    const extra = Object.keys(body).filter((k) => k !== 'events');
    if (extra.length) throw invalid(`property ${extra[0]} should not exist`, extra.map((k) => ({ field: k, message: `property ${k} should not exist` })));
    const events = (body as { events?: unknown }).events;
    if (!Array.isArray(events)) throw invalid('events must be an array', [{ field: 'events', message: 'events must be an array' }]);
    if (events.length === 0) throw invalid('events must contain at least 1 event', [{ field: 'events', message: 'events must not be empty' }]);
    const max = this.config.maxEventsPerBatch;
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

  private async parse(event: Record<string, unknown>, slot: Slot): Promise<IngestResultDto | undefined> {
    const id = slot.eventId;
    const invalid = (details: ErrorDetail[]) =>
      failed(id, 400, 'VALIDATION_FAILED', details.length === 1 ? `${details[0].field}: ${details[0].message}` : `${details.length} fields are invalid`, details);
    const extra = Object.keys(event).filter((k) => !EVENT_KEYS.has(k));
    if (extra.length) return invalid(extra.map((k) => ({ field: k, message: `property ${k} should not exist` })));
    const type = event.type as EventType;
    if (!EVENT_TYPES.includes(type)) return invalid([{ field: 'type', message: `type must be one of: ${EVENT_TYPES.join(', ')}` }]);
    if (event.timestamp !== undefined) {
      // The same rule as every date-time field of the DTOs (no 2024-02-30, no year 0).
      const time =
        typeof event.timestamp === 'string' && ISO.test(event.timestamp) && isISO8601(event.timestamp, { strict: true, strictSeparator: true })
          ? new Date(event.timestamp)
          : undefined;
      if (!time || Number.isNaN(time.getTime())) return invalid([{ field: 'timestamp', message: 'timestamp must be an ISO 8601 date-time' }]);
      slot.eventTime = time;
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

    switch (type) {
      case 'run-create': {
        const r = await checkDto(CreateRunDto, { ...rest, ...(entityId !== undefined ? { id: entityId } : {}) }, unexpected(['runId', 'stepId']));
        if (r.details) return invalid(r.details);
        if (!r.value.id) return invalid([{ field: 'body.id', message: 'id is required in a batch so retries stay idempotent' }]);
        slot.parsed = { kind: type, id: r.value.id, dto: r.value as CreateRunDto & { id: string } };
        return undefined;
      }
      case 'run-update': {
        const r = await checkDto(UpdateRunDto, rest, [...needUuid('id', entityId), ...unexpected(['runId', 'stepId'])]);
        if (r.details) return invalid(r.details);
        slot.parsed = { kind: type, id: entityId as string, dto: r.value };
        return undefined;
      }
      case 'step-create': {
        const r = await checkDto(CreateStepDto, { ...rest, ...(entityId !== undefined ? { id: entityId } : {}) }, [
          ...needUuid('runId', runId),
          ...unexpected(['stepId']),
        ]);
        if (r.details) return invalid(r.details);
        if (!r.value.id) return invalid([{ field: 'body.id', message: 'id is required in a batch so retries stay idempotent' }]);
        slot.parsed = { kind: type, id: r.value.id, runId: runId as string, dto: r.value as CreateStepDto & { id: string } };
        return undefined;
      }
      case 'step-update': {
        const r = await checkDto(UpdateStepDto, rest, [...needUuid('id', entityId), ...unexpected(['runId', 'stepId'])]);
        if (r.details) return invalid(r.details);
        slot.parsed = { kind: type, id: entityId as string, dto: r.value };
        return undefined;
      }
      case 'candidates-create': {
        const idDetails = [...needUuid('stepId', stepId), ...unexpected(['id', 'runId'])];
        if (idDetails.length) return invalid(idDetails);
        try {
          slot.parsed = { kind: type, stepId: stepId as string, candidates: validateCandidateBatch(rest, this.config.maxCandidatesPerRequest) };
          return undefined;
        } catch (err) {
          const described = describeError(err)!;
          const details = described.body.details?.map((d) => ({ ...d, field: `body.${d.field}` }));
          return failed(id, described.body.statusCode, described.body.error, described.body.message, details);
        }
      }
    }
  }

  /** Reads, in one statement, the events of the batch seen before and the runs and steps it names. */
  private async lookUp(db: Queryable, projectId: string, slots: Slot[]): Promise<StoredBefore> {
    const runIds = new Set<string>();
    const stepIds = new Set<string>();
    for (const { parsed: p } of slots) {
      if (!p) continue;
      if (p.kind === 'run-create' || p.kind === 'run-update') runIds.add(p.id);
      if (p.kind === 'step-create') {
        runIds.add(p.runId);
        stepIds.add(p.id);
        if (p.dto.parentStepId) stepIds.add(p.dto.parentStepId);
      }
      if (p.kind === 'step-update') stepIds.add(p.id);
      if (p.kind === 'candidates-create') stepIds.add(p.stepId);
    }
    const rows: { kind: 'event' | 'run' | 'step'; id: string; project_id: string | null; ref: string }[] = await db.query(
      // Event ids are probed one by one on the primary key (LIMIT keeps the lateral lookup a
      // loop; see the note on project checks in database/queryable.ts for why the shape matters).
      `SELECT 'event' AS kind, e.id, NULL::uuid AS project_id, seen.status::text AS ref
         FROM unnest($2::text[]) AS e(id)
         CROSS JOIN LATERAL (SELECT status FROM ingest_events WHERE project_id = $1 AND event_id = e.id LIMIT 1) seen
       UNION ALL SELECT 'run', id::text, project_id, pipeline FROM runs WHERE id = ANY($3::uuid[])
       UNION ALL SELECT 'step', id::text, project_id, run_id::text FROM steps WHERE id = ANY($4::uuid[])`,
      [projectId, [...new Set(slots.map((s) => s.eventId))], [...runIds], [...stepIds]],
    );
    const stored: StoredBefore = { runOwners: new Map(), stepOwners: new Map() };
    const seen = new Map<string, number>();
    for (const r of rows) {
      if (r.kind === 'event') seen.set(r.id, Number(r.ref));
      else if (r.kind === 'run') stored.runOwners.set(r.id, { projectId: r.project_id!, pipeline: r.ref });
      else stored.stepOwners.set(r.id, { projectId: r.project_id!, runId: r.ref });
    }
    // Events applied before (in an earlier batch, or earlier in this one) answer as they did.
    for (const slot of slots) {
      const earlier = seen.get(slot.eventId);
      if (earlier === undefined) continue;
      slot.result = { id: slot.eventId, status: earlier };
      slot.parsed = undefined;
    }
    return stored;
  }

  /**
   * Walks the events in order with what the database holds and what earlier events create,
   * so each event sees exactly the state it would see if the batch were applied one by one.
   */
  private resolve(projectId: string, slots: Slot[], { runOwners, stepOwners }: StoredBefore): void {
    /** Runs of this project known at the current position: id -> pipeline. */
    const runs = new Map<string, string>();
    for (const [id, o] of runOwners) if (o.projectId === projectId) runs.set(id, o.pipeline);
    /** Steps of this project known at the current position: id -> run id. */
    const steps = new Map<string, string>();
    for (const [id, o] of stepOwners) if (o.projectId === projectId) steps.set(id, o.runId);
    const candidateKeys = new Map<string, Set<string>>();

    for (const slot of slots) {
      const p = slot.parsed;
      if (!p || slot.result) continue;
      const fail = (status: number, code: string, message: string) => (slot.result = failed(slot.eventId, status, code, message));
      switch (p.kind) {
        case 'run-create': {
          const owner = runOwners.get(p.id);
          if (owner && owner.projectId !== projectId) fail(409, 'ID_CONFLICT', `Run id ${p.id} cannot be used; choose another id`);
          else if (runs.has(p.id)) slot.sequential = true;
          else {
            runs.set(p.id, p.dto.pipeline);
          }
          break;
        }
        case 'run-update':
          if (!runs.has(p.id)) fail(404, 'RUN_NOT_FOUND', `Run ${p.id} not found`);
          else slot.sequential = true;
          break;
        case 'step-create': {
          const owner = stepOwners.get(p.id);
          const parent = p.dto.parentStepId;
          if (!runs.has(p.runId)) fail(404, 'RUN_NOT_FOUND', `Run ${p.runId} not found`);
          else if (parent === p.id) fail(400, 'INVALID_PARENT', 'A step cannot be its own parent');
          else if (parent && !steps.has(parent)) fail(404, 'PARENT_STEP_NOT_FOUND', `Parent step ${parent} not found`);
          else if (parent && steps.get(parent) !== p.runId) fail(400, 'PARENT_IN_OTHER_RUN', `Parent step ${parent} belongs to another run`);
          else if ((owner && owner.projectId !== projectId) || (steps.has(p.id) && steps.get(p.id) !== p.runId)) {
            fail(409, 'ID_CONFLICT', `Step id ${p.id} is already used outside this run; choose another id`);
          } else if (steps.has(p.id)) slot.sequential = true;
          else {
            steps.set(p.id, p.runId);
          }
          break;
        }
        case 'step-update':
          if (!steps.has(p.id)) fail(404, 'STEP_NOT_FOUND', `Step ${p.id} not found`);
          else slot.sequential = true;
          break;
        case 'candidates-create': {
          if (!steps.has(p.stepId)) {
            fail(404, 'STEP_NOT_FOUND', `Step ${p.stepId} not found`);
            break;
          }
          const keys = candidateKeys.get(p.stepId) ?? new Set<string>();
          const local = new Set<string>();
          let duplicateWithin: string | undefined;
          let overlapsEarlier = false;
          for (const c of p.candidates) {
            if (local.has(c.key)) duplicateWithin ??= c.key;
            local.add(c.key);
            if (keys.has(c.key)) overlapsEarlier = true;
          }
          if (duplicateWithin !== undefined) {
            fail(400, 'DUPLICATE_CANDIDATE_KEY', `Candidate keys must be unique within an event; repeated: ${duplicateWithin}`);
            break;
          }
          // Keys already written by an earlier event of this batch: apply after it, in order.
          if (overlapsEarlier) slot.sequential = true;
          else for (const k of local) keys.add(k);
          candidateKeys.set(p.stepId, keys);
          break;
        }
      }
    }
  }

  private grouped<K extends Parsed['kind']>(slots: Slot[], kind: K): (Slot & { parsed: Extract<Parsed, { kind: K }> })[] {
    return slots.filter((s) => !s.result && !s.sequential && s.parsed?.kind === kind) as (Slot & { parsed: Extract<Parsed, { kind: K }> })[];
  }

  private async writeNewRuns(db: BatchDb, projectId: string, slots: Slot[]): Promise<void> {
    const group = this.grouped(slots, 'run-create');
    if (group.length === 0) return;
    const updates = this.foldableUpdates(db, slots, 'run', new Set(group.map((s) => s.parsed.id)));
    try {
      const inserted = await this.guarded(db, () => this.runs.insertNewRuns(
        projectId,
        group.map((s) => ({ ...s.parsed.dto, eventTime: s.eventTime, update: updateOf<UpdateRunDto>(updates.get(s.parsed.id)) })),
        db,
      ));
      for (const s of group) {
        if (!inserted.has(s.parsed.id)) {
          s.sequential = true; // created concurrently: the single path upserts or reports the conflict (its update waits)
          continue;
        }
        s.result = { id: s.eventId, status: 201 };
        settle(updates.get(s.parsed.id));
      }
    } catch (err) {
      this.fallBack(err, group);
    }
  }

  /** Answers the new steps inserted with their candidate counts already set (see candidateCounts). */
  private async writeNewSteps(db: BatchDb, projectId: string, slots: Slot[], before: StoredBefore): Promise<Set<string>> {
    const counted = new Set<string>();
    const group = this.grouped(slots, 'step-create');
    if (group.length === 0) return counted;
    // Only steps whose run, and parent, are stored by now (or come earlier in this group) can
    // go in the grouped insert; the others wait for the in-order pass after their parents.
    // Stored by now: found when the batch was resolved, or inserted by the grouped run insert
    // (anything else a concurrent request did in between shows up as a refused insert).
    const pipelines = new Map<string, string>();
    for (const [id, o] of before.runOwners) if (o.projectId === projectId) pipelines.set(id, o.pipeline);
    for (const s of slots) {
      if (s.parsed?.kind === 'run-create' && !s.sequential && s.result?.status === 201) pipelines.set(s.parsed.id, s.parsed.dto.pipeline);
    }
    const insertable: typeof group = [];
    const inGroup = new Set<string>();
    for (const s of group) {
      const parent = s.parsed.dto.parentStepId;
      const runStored = pipelines.has(s.parsed.runId);
      const parentStored = !parent || inGroup.has(parent) || before.stepOwners.get(parent)?.projectId === projectId;
      if (runStored && parentStored) {
        insertable.push(s);
        inGroup.add(s.parsed.id);
      } else s.sequential = true;
    }
    if (insertable.length === 0) return counted;
    const updates = this.foldableUpdates(db, slots, 'step', inGroup);
    const counts = this.candidateCounts(db, slots, inGroup);
    try {
      const inserted = await this.guarded(db, () => this.steps.insertNewSteps(
        projectId,
        insertable.map((s) => ({
          ...s.parsed.dto,
          runId: s.parsed.runId,
          pipeline: pipelines.get(s.parsed.runId)!,
          eventTime: s.eventTime,
          update: updateOf<UpdateStepDto>(updates.get(s.parsed.id)),
          stored: counts.get(s.parsed.id),
        })),
        db,
      ));
      for (const s of insertable) {
        if (!inserted.has(s.parsed.id)) {
          s.sequential = true; // and its update, if any, stays for the in-order pass
          continue;
        }
        s.result = { id: s.eventId, status: 201 };
        settle(updates.get(s.parsed.id));
        if (counts.has(s.parsed.id)) counted.add(s.parsed.id);
      }
    } catch (err) {
      this.fallBack(err, insertable);
    }
    return counted;
  }

  /**
   * A new step's candidates usually come in the same batch: their counts go into the step as it
   * is inserted, and the grouped candidate write then leaves those steps' counters alone (an
   * UPDATE of every such step saved). Only candidates that the grouped write will store (not
   * those waiting for the in-order pass), for steps with nothing else waiting, and not under
   * savepoints: if anything is refused, the careful try counts as each write goes.
   */
  private candidateCounts(db: BatchDb, slots: Slot[], inserting: Set<string>): Map<string, { in: number; out: number }> {
    const counts = new Map<string, { in: number; out: number }>();
    if (db.careful) return counts;
    const waiting = waitingSteps(slots);
    for (const s of this.grouped(slots, 'candidates-create')) {
      const stepId = s.parsed.stepId;
      if (!inserting.has(stepId) || waiting.has(stepId)) continue;
      const c = counts.get(stepId) ?? { in: 0, out: 0 };
      for (const candidate of s.parsed.candidates) {
        c.in++;
        if (candidate.decision !== 'rejected') c.out++;
      }
      counts.set(stepId, c);
    }
    return counts;
  }

  /**
   * The common batch holds a run's or step's create and, later, its one update (the SDK sends
   * both when the work is quick): such an update is applied as the row is inserted, saving the
   * grouped UPDATE. Only when it is the single update waiting for the in-order pass (the same
   * condition as the grouped updates, so the result is the same), and not under savepoints:
   * if the insert is refused, the careful try applies creates and updates apart.
   */
  private foldableUpdates(db: BatchDb, slots: Slot[], entity: 'run' | 'step', inserting: Set<string>): Map<string, Slot> {
    const folded = new Map<string, Slot>();
    if (db.careful) return folded;
    // Anything else still in order for the row (another update, a replayed create) keeps the
    // update in order too.
    const count = new Map<string, number>();
    const waiting = slots.filter((s) => s.sequential && !s.result && (s.parsed?.kind === `${entity}-update` || s.parsed?.kind === `${entity}-create`));
    for (const s of waiting) {
      const id = (s.parsed as { id: string }).id;
      count.set(id, (count.get(id) ?? 0) + 1);
    }
    for (const s of waiting.filter((w) => w.parsed!.kind === `${entity}-update`)) {
      const id = (s.parsed as { id: string }).id;
      if (count.get(id) === 1 && inserting.has(id)) folded.set(id, s);
    }
    return folded;
  }

  private async writeCandidates(db: BatchDb, projectId: string, slots: Slot[], counted: Set<string>): Promise<void> {
    // Candidates for a step still waiting for the in-order pass go after it, in that pass.
    const waiting = waitingSteps(slots);
    const group = this.grouped(slots, 'candidates-create').filter((s) => {
      if (!waiting.has(s.parsed.stepId)) return true;
      s.sequential = true;
      return false;
    });
    if (group.length === 0) return;
    try {
      const stored = await this.guarded(db, () => this.candidates.upsertBatches(
        projectId,
        group.map((s) => ({ stepId: s.parsed.stepId, candidates: s.parsed.candidates })),
        db,
        counted,
      ));
      // Several events for one step share its count; each event reports its own size.
      for (const s of group) {
        s.result = stored.has(s.parsed.stepId)
          ? { id: s.eventId, status: 201 }
          : failed(s.eventId, 404, 'STEP_NOT_FOUND', `Step ${s.parsed.stepId} not found`);
      }
    } catch (err) {
      this.fallBack(err, group);
    }
  }

  /**
   * Updates of runs and steps, grouped: one statement for the steps, one for the runs. Only an
   * update that is the single in-order event left for its run or step goes in a group, so
   * applying it before, after or among the other in-order events gives the same result; the
   * rest (several updates of one step, an update after a replayed create…) stay in order.
   */
  private async writeUpdates(db: BatchDb, projectId: string, slots: Slot[]): Promise<void> {
    const target = (p: Parsed) => (p.kind === 'candidates-create' ? `candidates:${p.stepId}` : `${p.kind.startsWith('run') ? 'run' : 'step'}:${p.id}`);
    const pending = new Map<string, number>();
    for (const s of slots) if (s.sequential && !s.result && s.parsed) pending.set(target(s.parsed), (pending.get(target(s.parsed)) ?? 0) + 1);
    const alone = (kind: 'run-update' | 'step-update') =>
      slots.filter((s) => s.sequential && !s.result && s.parsed?.kind === kind && pending.get(target(s.parsed)) === 1);
    const apply = async <D>(group: Slot[], write: (updates: { id: string; dto: D; eventTime?: Date }[]) => Promise<Set<string>>) => {
      if (group.length === 0) return;
      const updates = group.map((s) => {
        const p = s.parsed as unknown as { id: string; dto: D };
        return { id: p.id, dto: p.dto, eventTime: s.eventTime };
      });
      try {
        const updated = await this.guarded(db, () => write(updates));
        // A row gone meanwhile stays for the single path, which reports it.
        group.forEach((s, i) => {
          if (updated.has(updates[i].id)) s.result = { id: s.eventId, status: 200 };
        });
      } catch (err) {
        this.fallBack(err, group);
      }
    };
    await apply<UpdateStepDto>(alone('step-update'), (updates) => this.steps.updateStepsGrouped(projectId, updates, db));
    await apply<UpdateRunDto>(alone('run-update'), (updates) => this.runs.updateRunsGrouped(projectId, updates, db));
  }

  /** A grouped statement refused by the database (bad value somewhere): retry each event alone. */
  private fallBack(err: unknown, group: Slot[]): void {
    if (!recoverable(err)) throw err;
    for (const s of group) s.sequential = true;
  }

  /**
   * Runs one write under a savepoint: a statement PostgreSQL refuses (a bad value, a parent
   * gone) then undoes only itself, and the batch's transaction goes on with the other events.
   */
  private async guarded<T>(db: BatchDb, write: () => Promise<T>): Promise<T> {
    if (!db.careful) {
      try {
        return await write();
      } catch (err) {
        // The transaction is aborted now: start again, carefully (see ingest()).
        if (recoverable(err)) throw new ApplyCarefully();
        throw err;
      }
    }
    await db.query('SAVEPOINT ingest_write');
    try {
      const result = await write();
      await db.query('RELEASE SAVEPOINT ingest_write');
      return result;
    } catch (err) {
      // If the connection died under the write, the rollback fails too (the query runner is
      // released by then): the write's own error says what happened, so that one is thrown.
      await db.query('ROLLBACK TO SAVEPOINT ingest_write').catch(() => {
        throw err;
      });
      throw err;
    }
  }

  private async applyOne(db: BatchDb, projectId: string, slot: Slot): Promise<IngestResultDto> {
    try {
      return await this.guarded(db, () => this.applyParsed(db, projectId, slot));
    } catch (err) {
      const described = describeError(err);
      // Outages and bugs fail the whole request (the client retries it; replays are safe).
      if (!described || described.body.statusCode >= 500) throw err;
      return { id: slot.eventId, status: described.body.statusCode, error: described.body as ErrorBody };
    }
  }

  private async applyParsed(db: Queryable, projectId: string, slot: Slot): Promise<IngestResultDto> {
    const p = slot.parsed!;
    switch (p.kind) {
      case 'run-create':
        return { id: slot.eventId, status: (await this.runs.createRun(projectId, p.dto, slot.eventTime, db)).created ? 201 : 200 };
      case 'run-update':
        await this.runs.updateRun(projectId, p.id, p.dto, slot.eventTime, db);
        return { id: slot.eventId, status: 200 };
      case 'step-create':
        return { id: slot.eventId, status: (await this.steps.createStep(projectId, p.runId, p.dto, slot.eventTime, db)).created ? 201 : 200 };
      case 'step-update':
        await this.steps.updateStep(projectId, p.id, p.dto, slot.eventTime, db);
        return { id: slot.eventId, status: 200 };
      case 'candidates-create': {
        const stored = await this.candidates.upsertBatches(projectId, [{ stepId: p.stepId, candidates: p.candidates }], db);
        if (!stored.has(p.stepId)) throw notFound('Step', p.stepId);
        return { id: slot.eventId, status: 201 };
      }
    }
  }

  /** Successful events are remembered; failed ones are not, so the client can retry them. */
  private async remember(db: Queryable, projectId: string, slots: Slot[]): Promise<void> {
    const applied = new Map<string, number>();
    for (const s of slots) if (s.parsed && s.result && s.result.status < 300 && !applied.has(s.eventId)) applied.set(s.eventId, s.result.status);
    if (applied.size === 0) return;
    await db.query(
      `INSERT INTO ingest_events (project_id, event_id, status)
       SELECT $1, e, s FROM unnest($2::text[], $3::smallint[]) AS t(e, s)
       ON CONFLICT DO NOTHING`,
      [projectId, [...applied.keys()], [...applied.values()]],
    );
  }
}
