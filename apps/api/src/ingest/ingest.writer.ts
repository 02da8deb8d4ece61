import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { CandidatesService } from '../candidates/candidates.service.js';
import { notFound } from '../common/app-error.js';
import { describeError } from '../common/describe-error.js';
import type { ErrorBody } from '../common/error-body.js';
import { DayPartitions } from '../database/partitions.js';
import type { Queryable } from '../database/queryable.js';
import { createdTimes } from '../domain/lifecycle.js';
import { RunsService } from '../runs/runs.service.js';
import { ScoresService } from '../scores/scores.service.js';
import { StepsService } from '../steps/steps.service.js';
import { failedEvent, type IngestEvent, type Operation } from './ingest-envelope.js';
import { type GroupedUpdate, planBatch, type StoredState } from './ingest-plan.js';
import type { IngestResultDto } from './ingest.dto.js';
import { IngestRepository } from './ingest.repository.js';

/**
 * Thrown out of the grouped try when a write failed in a way only some events should, or the
 * database no longer matched the plan (a row created or removed by a concurrent request).
 */
class ApplyOneByOne extends Error {}

/**
 * A write that failed for some events, not the request: a value the database refused (4xx), a
 * parent gone or not there yet (23503), or an event's own 4xx raised between its statements.
 */
function recoverable(err: unknown): boolean {
  if ((err as { code?: string }).code === '23503') return true;
  const described = describeError(err);
  return described !== undefined && described.body.statusCode < 500;
}

/**
 * Applies ingest events in PostgreSQL: reads what the batch needs, plans it
 * (ingest-plan.ts), and writes the plan in one transaction, so a batch is stored whole or not at
 * all (a crash, an outage or a timeout mid-batch leaves nothing half-written; the client's
 * retry applies it whole). Every way in (the /v1/ingest envelope, OpenTelemetry spans) ends here.
 *
 * The grouped plan runs without savepoints (the common case: every write goes through). If the
 * database refuses a write for a reason that fails only some events, or no longer matches the
 * plan, that try is rolled back and the batch planned again one event at a time, each write
 * under its own savepoint, so just the events at fault fail.
 */
@Injectable()
export class IngestWriter {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: IngestRepository,
    private readonly runs: RunsService,
    private readonly steps: StepsService,
    private readonly candidates: CandidatesService,
    private readonly partitions: DayPartitions,
    private readonly scores: ScoresService,
  ) {}

  async write(projectId: string, events: readonly IngestEvent[]): Promise<IngestResultDto[]> {
    // The partitions of the days new runs start on, before the transaction (creating one locks its parent).
    await this.partitions.ensure(
      events.flatMap((e) => (e.operation?.kind === 'run-create' ? [createdTimes({ ...e.operation.dto, eventTime: e.eventTime }).startedAt] : [])),
    );
    try {
      return await this.dataSource.transaction((manager) => this.apply(manager, projectId, events, false));
    } catch (err) {
      if (!(err instanceof ApplyOneByOne)) throw err;
      return this.dataSource.transaction((manager) => this.apply(manager, projectId, events, true));
    }
  }

  private async apply(db: EntityManager, projectId: string, events: readonly IngestEvent[], oneByOne: boolean): Promise<IngestResultDto[]> {
    const { deletedRuns, ...read } = await this.repository.findStoredState(db, projectId, idsNamed(events));
    const stored = answeringDeletedRuns(events, deletedRuns, read);
    const plan = planBatch(projectId, events, stored, { oneByOne });
    const results: (IngestResultDto | undefined)[] = plan.outcomes.map((o) => (o.kind === 'answered' ? o.result : undefined));
    const ok = (event: number, status: number) => (results[event] = { id: events[event].eventId, status });
    const guarded = <T>(write: () => Promise<T>) => (oneByOne ? this.underSavepoint(db, write) : this.orOneByOne(write));

    if (plan.runInserts.length) {
      const inserted = await guarded(() =>
        this.runs.insertNewRuns(
          projectId,
          plan.runInserts.map((r) => r.run),
          db,
        ),
      );
      for (const r of plan.runInserts) {
        if (!inserted.has(r.run.id)) throw new ApplyOneByOne(); // created concurrently since the batch was read
        ok(r.event, 201);
        if (r.updateEvent !== undefined) ok(r.updateEvent, 200);
      }
    }
    if (plan.stepInserts.length) {
      const inserted = await guarded(() =>
        this.steps.insertNewSteps(
          projectId,
          plan.stepInserts.map((s) => s.step),
          db,
        ),
      );
      for (const s of plan.stepInserts) {
        if (!inserted.has(s.step.id)) throw new ApplyOneByOne();
        ok(s.event, 201);
        if (s.updateEvent !== undefined) ok(s.updateEvent, 200);
      }
    }
    if (plan.candidateWrites.length) {
      const batches = plan.candidateWrites.map((c) => ({ stepId: c.stepId, candidates: c.candidates }));
      const written = await guarded(() => this.candidates.upsertBatches(projectId, batches, db, new Set(plan.countedSteps)));
      // Several events for one step share its count; each event reports its own size.
      for (const c of plan.candidateWrites) {
        if (written.has(c.stepId)) ok(c.event, 201);
        else results[c.event] = failedEvent(events[c.event].eventId, 404, 'STEP_NOT_FOUND', `Step ${c.stepId} not found`);
      }
    }
    await this.groupedUpdates(plan.stepUpdates, (updates) => guarded(() => this.steps.updateStepsGrouped(projectId, updates, db)), ok);
    await this.groupedUpdates(plan.runUpdates, (updates) => guarded(() => this.runs.updateRunsGrouped(projectId, updates, db)), ok);
    for (const event of plan.inOrder) {
      results[event] = await this.applyOne(db, projectId, events[event], events[event].operation!, oneByOne);
    }

    plan.outcomes.forEach((o, i) => {
      if (o.kind === 'same-as') results[i] = { ...results[o.event]!, id: events[i].eventId };
    });
    // Successful events are remembered; failed ones are not, so the client can retry them.
    const applied = new Map<string, number>();
    plan.outcomes.forEach((o, i) => {
      if (o.kind !== 'answered' && o.kind !== 'same-as' && results[i]!.status < 300) applied.set(events[i].eventId, results[i]!.status);
    });
    await this.repository.rememberEvents(db, projectId, applied);
    return results as IngestResultDto[];
  }

  /** One statement per table for the updates that are alone for their row (see planUpdates). */
  private async groupedUpdates<D>(
    updates: readonly GroupedUpdate<D>[],
    write: (updates: { id: string; dto: D; eventTime?: Date }[]) => Promise<Set<string>>,
    ok: (event: number, status: number) => void,
  ): Promise<void> {
    if (updates.length === 0) return;
    const updated = await write(updates.map((u) => ({ id: u.id, dto: u.dto, eventTime: u.eventTime })));
    for (const u of updates) {
      if (!updated.has(u.id)) throw new ApplyOneByOne(); // removed since the batch was read
      ok(u.event, 200);
    }
  }

  /** Without savepoints: a refusal that concerns only some events aborts the transaction, to start again one by one. */
  private async orOneByOne<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (recoverable(err)) throw new ApplyOneByOne();
      throw err;
    }
  }

  /**
   * Runs one write under a savepoint: a statement PostgreSQL refuses (a bad value, a parent
   * gone) then undoes only itself, and the batch's transaction goes on with the other events.
   */
  private async underSavepoint<T>(db: Queryable, write: () => Promise<T>): Promise<T> {
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

  private async applyOne(db: Queryable, projectId: string, event: IngestEvent, op: Operation, oneByOne: boolean): Promise<IngestResultDto> {
    try {
      const write = () => this.applyOperation(db, projectId, event, op);
      return { id: event.eventId, status: await (oneByOne ? this.underSavepoint(db, write) : this.orOneByOne(write)) };
    } catch (err) {
      const described = describeError(err);
      // Outages and bugs fail the whole request (the client retries it; replays are safe).
      if (!described || described.body.statusCode >= 500) throw err;
      return { id: event.eventId, status: described.body.statusCode, error: described.body as ErrorBody };
    }
  }

  /** The single-event path, the same services the REST endpoints use. Answers the event's status. */
  private async applyOperation(db: Queryable, projectId: string, event: IngestEvent, op: Operation): Promise<number> {
    switch (op.kind) {
      case 'run-create':
        return (await this.runs.createRun(projectId, op.dto, event.eventTime, db)).created ? 201 : 200;
      case 'run-update':
        await this.runs.updateRun(projectId, op.id, op.dto, event.eventTime, db);
        return 200;
      case 'step-create':
        return (await this.steps.createStep(projectId, op.runId, op.dto, event.eventTime, db)).created ? 201 : 200;
      case 'step-update':
        await this.steps.updateStep(projectId, op.id, op.dto, event.eventTime, db);
        return 200;
      case 'candidates-create': {
        const stored = await this.candidates.upsertBatches(projectId, [{ stepId: op.stepId, candidates: op.candidates }], db);
        if (!stored.has(op.stepId)) throw notFound('Step', op.stepId);
        return 201;
      }
      case 'score-create':
        await this.scores.createWith(db, projectId, [op.dto]);
        return 201;
    }
  }
}

/**
 * Events about a run the project deleted (the run's own, its steps' created in the batch, and
 * their updates and candidates) are answered as applied before (200), so a replay stores nothing
 * and the client does not retry: the stored state counts them among the events seen, which the
 * plan answers from. Events naming only a step stored before the deletion find no step (404), as
 * for any unknown step.
 */
function answeringDeletedRuns(events: readonly IngestEvent[], deletedRuns: ReadonlySet<string>, stored: StoredState): StoredState {
  if (deletedRuns.size === 0) return stored;
  const goneSteps = new Set<string>();
  for (const { operation: p } of events) if (p?.kind === 'step-create' && deletedRuns.has(p.runId)) goneSteps.add(p.id);
  const seen = new Map(stored.seen);
  for (const { eventId, operation: p } of events) {
    if (!p || seen.has(eventId)) continue;
    const gone =
      ((p.kind === 'run-create' || p.kind === 'run-update') && deletedRuns.has(p.id)) ||
      (p.kind === 'step-create' && deletedRuns.has(p.runId)) ||
      (p.kind === 'step-update' && goneSteps.has(p.id)) ||
      (p.kind === 'candidates-create' && goneSteps.has(p.stepId));
    if (gone) seen.set(eventId, 200);
  }
  return { ...stored, seen };
}

/** Every event id, run id and step id the events name, for one read of what is stored. */
function idsNamed(events: readonly IngestEvent[]): { events: string[]; runs: string[]; steps: string[] } {
  const runs = new Set<string>();
  const steps = new Set<string>();
  for (const { operation: p } of events) {
    if (!p) continue;
    if (p.kind === 'run-create' || p.kind === 'run-update') runs.add(p.id);
    if (p.kind === 'step-create') {
      runs.add(p.runId);
      steps.add(p.id);
      if (p.dto.parentStepId) steps.add(p.dto.parentStepId);
    }
    if (p.kind === 'step-update') steps.add(p.id);
    if (p.kind === 'candidates-create') steps.add(p.stepId);
    // A score's target may have been stored by an earlier batch.
    if (p.kind === 'score-create') {
      if (p.dto.stepId !== undefined) steps.add(p.dto.stepId);
      else if (p.dto.runId !== undefined) runs.add(p.dto.runId);
    }
  }
  return { events: [...new Set(events.map((e) => e.eventId))], runs: [...runs], steps: [...steps] };
}
