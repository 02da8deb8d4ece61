import type { CandidateInputDto } from '../candidates/candidates.dto.js';
import { isKept } from '../domain/vocabulary.js';
import type { CreateRunDto, UpdateRunDto } from '../runs/runs.dto.js';
import type { CreateStepDto, UpdateStepDto } from '../steps/steps.dto.js';
import { failedEvent, type IngestEvent, type Operation } from './ingest-envelope.js';
import type { IngestResultDto } from './ingest.dto.js';

/**
 * The batch planner: pure, no database. Given a batch's events and what the database held when
 * the batch began (events applied before, the owners of the runs and steps the events name), it
 * decides what each event does, so that each sees exactly the state it would see if the batch
 * were applied one event at a time, in order, while most writes are grouped:
 * all new runs in one statement, all new steps in one, all candidates in one, the updates that
 * are alone for their row in one per table. Everything else is applied one by one, in order,
 * after the grouped writes. The writer (ingest.writer.ts) applies the plan.
 *
 * Longer than our usual 300 lines on purpose: the grouping rules read each other's decisions
 * (a folded update depends on what waits in order, counts on which steps are inserted), and
 * they are reviewed and unit-tested together (ingest-plan.spec.ts).
 */

/** What the database held when the batch began. */
export interface StoredState {
  /** Events applied before, with the status they answered. */
  seen: ReadonlyMap<string, number>;
  runOwners: ReadonlyMap<string, { projectId: string; pipeline: string }>;
  stepOwners: ReadonlyMap<string, { projectId: string; runId: string }>;
}

/** What happens to one event. */
export type Outcome =
  /** Already answered: invalid, applied before (a replay), or refused when its references were checked. */
  | { readonly kind: 'answered'; readonly result: IngestResultDto }
  /** A repeated event id in the batch: answers like its first occurrence. */
  | { readonly kind: 'same-as'; readonly event: number }
  | { readonly kind: 'insert-run' | 'insert-step' | 'candidates' | 'update-run' | 'update-step' }
  /** An update applied as its row is inserted (see foldable). */
  | { readonly kind: 'folded-into-insert' }
  /** Applied one by one, in order, after the grouped writes. */
  | { readonly kind: 'in-order' };

export interface TimedUpdate<D> {
  readonly dto: D;
  readonly eventTime?: Date;
}

export interface RunInsert {
  readonly event: number;
  readonly run: CreateRunDto & { id: string; eventTime?: Date; update?: TimedUpdate<UpdateRunDto> };
  /** The event whose update the insert applies. */
  readonly updateEvent?: number;
}

export interface StepInsert {
  readonly event: number;
  readonly step: CreateStepDto & {
    id: string;
    runId: string;
    pipeline: string;
    eventTime?: Date;
    update?: TimedUpdate<UpdateStepDto>;
    /** Candidates of this batch stored with the step: its counters start there. */
    stored?: { in: number; out: number };
  };
  readonly updateEvent?: number;
}

export interface CandidateWrite {
  readonly event: number;
  readonly stepId: string;
  readonly candidates: CandidateInputDto[];
}

export interface GroupedUpdate<D> {
  readonly event: number;
  readonly id: string;
  readonly dto: D;
  readonly eventTime?: Date;
}

export interface IngestPlan {
  /** One per event of the batch, in order. */
  readonly outcomes: readonly Outcome[];
  readonly runInserts: readonly RunInsert[];
  readonly stepInserts: readonly StepInsert[];
  readonly candidateWrites: readonly CandidateWrite[];
  /** Steps inserted with their candidate counts: the candidate write leaves their counters alone. */
  readonly countedSteps: ReadonlySet<string>;
  readonly runUpdates: readonly GroupedUpdate<UpdateRunDto>[];
  readonly stepUpdates: readonly GroupedUpdate<UpdateStepDto>[];
  /** Event indexes applied one by one, in batch order. */
  readonly inOrder: readonly number[];
}

export interface PlanOptions {
  /**
   * Group nothing: every event that passes the checks is applied in order, on its own. The
   * writer plans so after the database refused a grouped write, so only the events at fault fail.
   */
  oneByOne?: boolean;
}

type Kind = Operation['kind'];
type Of<K extends Kind> = Extract<Operation, { kind: K }>;

/** Working state while planning; the plan handed out is frozen. */
interface Slot {
  readonly event: IngestEvent;
  outcome?: Outcome;
  inOrder?: boolean;
}

export function planBatch(projectId: string, events: readonly IngestEvent[], stored: StoredState, options: PlanOptions = {}): IngestPlan {
  const slots: Slot[] = events.map((event) => ({ event }));
  answerKnown(slots, stored);
  resolve(projectId, slots, stored);
  if (options.oneByOne) for (const s of pending(slots)) s.inOrder = true;

  const runInserts = planRunInserts(slots);
  const { stepInserts, countedSteps } = planStepInserts(projectId, slots, stored, runInserts);
  const candidateWrites = planCandidates(slots);
  const { runUpdates, stepUpdates } = options.oneByOne ? { runUpdates: [], stepUpdates: [] } : planUpdates(slots);
  const inOrder: number[] = [];
  slots.forEach((s, i) => {
    if (s.inOrder && !s.outcome) {
      s.outcome = { kind: 'in-order' };
      inOrder.push(i);
    }
  });
  return Object.freeze({
    outcomes: Object.freeze(slots.map((s) => s.outcome!)),
    runInserts: Object.freeze(runInserts),
    stepInserts: Object.freeze(stepInserts),
    candidateWrites: Object.freeze(candidateWrites),
    countedSteps,
    runUpdates: Object.freeze(runUpdates),
    stepUpdates: Object.freeze(stepUpdates),
    inOrder: Object.freeze(inOrder),
  });
}

/** Invalid events, replays of events applied before, and repeats of an event id in the batch. */
function answerKnown(slots: Slot[], stored: StoredState): void {
  const first = new Map<string, number>();
  slots.forEach((s, i) => {
    const { eventId, failure } = s.event;
    const earlier = first.get(eventId);
    if (earlier !== undefined) s.outcome = { kind: 'same-as', event: earlier };
    else {
      first.set(eventId, i);
      if (failure) s.outcome = { kind: 'answered', result: failure };
      else if (stored.seen.has(eventId)) s.outcome = { kind: 'answered', result: { id: eventId, status: stored.seen.get(eventId)! } };
    }
  });
}

/** Events still to be decided. */
const pending = (slots: Slot[]) => slots.filter((s) => !s.outcome && s.event.operation);

/** Decided to be grouped: not answered, not in order, of this kind. */
function grouped<K extends Kind>(slots: Slot[], kind: K): { slot: Slot; index: number; op: Of<K> }[] {
  const out: { slot: Slot; index: number; op: Of<K> }[] = [];
  slots.forEach((slot, index) => {
    const op = slot.event.operation;
    if (!slot.outcome && !slot.inOrder && op?.kind === kind) out.push({ slot, index, op: op as Of<K> });
  });
  return out;
}

/** Waiting for the in-order pass, of these kinds. */
const waiting = (slots: Slot[], kinds: Kind[]) => slots.filter((s) => s.inOrder && !s.outcome && kinds.includes(s.event.operation!.kind));
const idOf = (s: Slot) => (s.event.operation as { id: string }).id;

/**
 * Walks the events in order with what the database holds and what earlier events create,
 * refusing what would fail at its position and marking for the in-order pass what must wait
 * for an earlier write (a replayed create, an update, keys an earlier event wrote).
 */
function resolve(projectId: string, slots: Slot[], { runOwners, stepOwners }: StoredState): void {
  /** Runs of this project known at the current position: id -> pipeline. */
  const runs = new Map<string, string>();
  for (const [id, o] of runOwners) if (o.projectId === projectId) runs.set(id, o.pipeline);
  /** Steps of this project known at the current position: id -> run id. */
  const steps = new Map<string, string>();
  for (const [id, o] of stepOwners) if (o.projectId === projectId) steps.set(id, o.runId);
  const candidateKeys = new Map<string, Set<string>>();

  for (const slot of pending(slots)) {
    const p = slot.event.operation!;
    const fail = (status: number, code: string, message: string) => {
      slot.outcome = { kind: 'answered', result: failedEvent(slot.event.eventId, status, code, message) };
    };
    switch (p.kind) {
      case 'run-create': {
        const owner = runOwners.get(p.id);
        if (owner && owner.projectId !== projectId) fail(409, 'ID_CONFLICT', `Run id ${p.id} cannot be used; choose another id`);
        else if (runs.has(p.id)) slot.inOrder = true;
        else runs.set(p.id, p.dto.pipeline);
        break;
      }
      case 'run-update':
        if (!runs.has(p.id)) fail(404, 'RUN_NOT_FOUND', `Run ${p.id} not found`);
        else slot.inOrder = true;
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
        } else if (steps.has(p.id)) slot.inOrder = true;
        else steps.set(p.id, p.runId);
        break;
      }
      case 'step-update':
        if (!steps.has(p.id)) fail(404, 'STEP_NOT_FOUND', `Step ${p.id} not found`);
        else slot.inOrder = true;
        break;
      case 'score-create': {
        // Its target must be known at its position; the score is written in the in-order pass,
        // after the grouped writes (so it finds the candidates earlier events made).
        const { stepId, runId } = p.dto;
        if (stepId !== undefined && !steps.has(stepId)) fail(404, 'STEP_NOT_FOUND', `Step ${stepId} not found`);
        else if (stepId === undefined && runId !== undefined && !runs.has(runId)) fail(404, 'RUN_NOT_FOUND', `Run ${runId} not found`);
        else slot.inOrder = true;
        break;
      }
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
        if (overlapsEarlier) slot.inOrder = true;
        else for (const k of local) keys.add(k);
        candidateKeys.set(p.stepId, keys);
        break;
      }
    }
  }
}

/**
 * The common batch holds a run's or step's create and, later, its one update (the SDK sends
 * both when the work is quick): such an update is applied as the row is inserted, saving the
 * grouped UPDATE. Only when it is the single event waiting in order for its row, so the result
 * is the same as applying it after.
 */
function foldable(slots: Slot[], entity: 'run' | 'step', inserting: ReadonlySet<string>): Map<string, number> {
  const count = new Map<string, number>();
  for (const s of waiting(slots, [`${entity}-update`, `${entity}-create`])) count.set(idOf(s), (count.get(idOf(s)) ?? 0) + 1);
  const folded = new Map<string, number>();
  for (const s of waiting(slots, [`${entity}-update`])) {
    if (count.get(idOf(s)) === 1 && inserting.has(idOf(s))) folded.set(idOf(s), slots.indexOf(s));
  }
  return folded;
}

function fold<D>(slots: Slot[], event: number | undefined): TimedUpdate<D> | undefined {
  if (event === undefined) return undefined;
  const slot = slots[event];
  slot.outcome = { kind: 'folded-into-insert' };
  return { dto: (slot.event.operation as unknown as { dto: D }).dto, eventTime: slot.event.eventTime };
}

function planRunInserts(slots: Slot[]): RunInsert[] {
  const group = grouped(slots, 'run-create');
  const updates = foldable(slots, 'run', new Set(group.map((g) => g.op.id)));
  return group.map(({ slot, index, op }) => {
    slot.outcome = { kind: 'insert-run' };
    const updateEvent = updates.get(op.id);
    return { event: index, run: { ...op.dto, eventTime: slot.event.eventTime, update: fold<UpdateRunDto>(slots, updateEvent) }, updateEvent };
  });
}

/**
 * New steps whose run, and parent, are stored by the time the grouped step insert runs (stored
 * before, inserted by the grouped run insert, or earlier in this group); the others wait for
 * the in-order pass after their parents.
 */
function planStepInserts(
  projectId: string,
  slots: Slot[],
  stored: StoredState,
  runInserts: readonly RunInsert[],
): { stepInserts: StepInsert[]; countedSteps: ReadonlySet<string> } {
  const pipelines = new Map<string, string>();
  for (const [id, o] of stored.runOwners) if (o.projectId === projectId) pipelines.set(id, o.pipeline);
  for (const r of runInserts) pipelines.set(r.run.id, r.run.pipeline);
  const insertable: ReturnType<typeof grouped<'step-create'>> = [];
  const inGroup = new Set<string>();
  for (const g of grouped(slots, 'step-create')) {
    const parent = g.op.dto.parentStepId;
    const parentStored = !parent || inGroup.has(parent) || stored.stepOwners.get(parent)?.projectId === projectId;
    if (pipelines.has(g.op.runId) && parentStored) {
      insertable.push(g);
      inGroup.add(g.op.id);
    } else g.slot.inOrder = true;
  }
  const updates = foldable(slots, 'step', inGroup);
  const counts = candidateCounts(slots, inGroup);
  const stepInserts = insertable.map(({ slot, index, op }): StepInsert => {
    slot.outcome = { kind: 'insert-step' };
    const updateEvent = updates.get(op.id);
    const step = {
      ...op.dto,
      runId: op.runId,
      pipeline: pipelines.get(op.runId)!,
      eventTime: slot.event.eventTime,
      update: fold<UpdateStepDto>(slots, updateEvent),
      stored: counts.get(op.id),
    };
    return { event: index, step, updateEvent };
  });
  return { stepInserts, countedSteps: new Set(counts.keys()) };
}

/** Steps whose create waits for the in-order pass: what concerns them waits too. */
const waitingSteps = (slots: Slot[]) => new Set(waiting(slots, ['step-create']).map(idOf));

/**
 * A new step's candidates usually come in the same batch: their counts go into the step as it
 * is inserted, and the grouped candidate write then leaves those steps' counters alone (an
 * UPDATE of every such step saved). Only candidates the grouped write will store, for steps
 * with nothing else waiting.
 */
function candidateCounts(slots: Slot[], inserting: ReadonlySet<string>): Map<string, { in: number; out: number }> {
  const counts = new Map<string, { in: number; out: number }>();
  const waitingIds = waitingSteps(slots);
  for (const { op } of grouped(slots, 'candidates-create')) {
    if (!inserting.has(op.stepId) || waitingIds.has(op.stepId)) continue;
    const c = counts.get(op.stepId) ?? { in: 0, out: 0 };
    for (const candidate of op.candidates) {
      c.in++;
      if (isKept(candidate.decision)) c.out++;
    }
    counts.set(op.stepId, c);
  }
  return counts;
}

/** Candidates for a step still waiting for the in-order pass go after it, in that pass. */
function planCandidates(slots: Slot[]): CandidateWrite[] {
  const waitingIds = waitingSteps(slots);
  const writes: CandidateWrite[] = [];
  for (const { slot, index, op } of grouped(slots, 'candidates-create')) {
    if (waitingIds.has(op.stepId)) slot.inOrder = true;
    else {
      slot.outcome = { kind: 'candidates' };
      writes.push({ event: index, stepId: op.stepId, candidates: op.candidates });
    }
  }
  return writes;
}

/**
 * Updates that are the single in-order event left for their run or step are grouped (one
 * statement per table): applying one before, after or among the other in-order events gives the
 * same result. The rest (several updates of one step, an update after a replayed create…) stay
 * in order.
 */
function planUpdates(slots: Slot[]): { runUpdates: GroupedUpdate<UpdateRunDto>[]; stepUpdates: GroupedUpdate<UpdateStepDto>[] } {
  const target = (p: Operation) => (p.kind === 'candidates-create' ? `candidates:${p.stepId}` : `${p.kind.startsWith('run') ? 'run' : 'step'}:${p.id}`);
  const count = new Map<string, number>();
  for (const s of slots) if (s.inOrder && !s.outcome) count.set(target(s.event.operation!), (count.get(target(s.event.operation!)) ?? 0) + 1);
  const alone = <D>(kind: 'run-update' | 'step-update'): GroupedUpdate<D>[] =>
    slots.flatMap((s, event) => {
      const op = s.event.operation;
      if (!s.inOrder || s.outcome || op?.kind !== kind || count.get(target(op)) !== 1) return [];
      s.outcome = { kind: kind === 'run-update' ? 'update-run' : 'update-step' };
      return [{ event, id: op.id, dto: op.dto as D, eventTime: s.event.eventTime }];
    });
  return { runUpdates: alone<UpdateRunDto>('run-update'), stepUpdates: alone<UpdateStepDto>('step-update') };
}
