import type { IngestEvent, Operation } from './ingest-envelope.js';
import { type IngestPlan, planBatch, type StoredState } from './ingest-plan.js';

const P = 'project-a';
const OTHER = 'project-b';
const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const RUN = id(1);
const STEP = id(2);
const CHILD = id(3);

const op = {
  runCreate: (runId = RUN): Operation => ({ kind: 'run-create', id: runId, dto: { id: runId, pipeline: 'competitor-selection' } }),
  runUpdate: (runId = RUN): Operation => ({ kind: 'run-update', id: runId, dto: { status: 'success' } }),
  stepCreate: (stepId = STEP, runId = RUN, parentStepId?: string): Operation => ({
    kind: 'step-create',
    id: stepId,
    runId,
    dto: { id: stepId, name: 'filter-by-price', ...(parentStepId ? { parentStepId } : {}) },
  }),
  stepUpdate: (stepId = STEP): Operation => ({ kind: 'step-update', id: stepId, dto: { status: 'success' } }),
  candidates: (stepId = STEP, keys = ['B0AAA', 'B0XYZ']): Operation => ({
    kind: 'candidates-create',
    stepId,
    candidates: keys.map((key, i) => ({ key, decision: i === 0 ? 'accepted' : 'rejected' })),
  }),
};

const batch = (...ops: (Operation | IngestEvent)[]): IngestEvent[] => ops.map((o, i) => ('kind' in o ? { eventId: `e${i}`, operation: o } : o));

const stored = (s: Partial<{ seen: [string, number][]; runs: [string, string][]; steps: [string, string, string][] }> = {}): StoredState => ({
  seen: new Map(s.seen ?? []),
  runOwners: new Map((s.runs ?? []).map(([runId, project]) => [runId, { projectId: project, pipeline: 'competitor-selection' }])),
  stepOwners: new Map((s.steps ?? []).map(([stepId, project, runId]) => [stepId, { projectId: project, runId }])),
});

/** The plan as one line per event: what it does, and the status of those answered already. */
const summary = (plan: IngestPlan): string[] =>
  plan.outcomes.map((o) =>
    o.kind === 'answered'
      ? `answered ${o.result.status}${o.result.error ? ` ${o.result.error.error}` : ''}`
      : o.kind === 'same-as'
        ? `same-as e${o.event}`
        : o.kind,
  );

describe('planBatch', () => {
  const cases: { name: string; events: IngestEvent[]; before?: StoredState; expected: string[] }[] = [
    {
      name: 'a whole new run: every write grouped, each update folded into its row’s insert',
      events: batch(op.runCreate(), op.stepCreate(), op.candidates(), op.stepUpdate(), op.runUpdate()),
      expected: ['insert-run', 'insert-step', 'candidates', 'folded-into-insert', 'folded-into-insert'],
    },
    {
      name: 'replays of events applied before answer their first status and write nothing',
      events: batch(op.runCreate(), op.stepCreate()),
      before: stored({
        seen: [
          ['e0', 201],
          ['e1', 201],
        ],
        runs: [[RUN, P]],
        steps: [[STEP, P, RUN]],
      }),
      expected: ['answered 201', 'answered 201'],
    },
    {
      name: 'a create of a row that exists (a replay under a new event id) goes in order, and so does its update',
      events: batch(op.runCreate(), op.runUpdate()),
      before: stored({ runs: [[RUN, P]] }),
      expected: ['in-order', 'in-order'],
    },
    {
      name: 'an update alone for its stored row is grouped',
      events: batch(op.stepUpdate(), op.runUpdate()),
      before: stored({ runs: [[RUN, P]], steps: [[STEP, P, RUN]] }),
      expected: ['update-step', 'update-run'],
    },
    {
      name: 'two updates of one row stay in order',
      events: batch(op.stepUpdate(), op.stepUpdate()),
      before: stored({ runs: [[RUN, P]], steps: [[STEP, P, RUN]] }),
      expected: ['in-order', 'in-order'],
    },
    {
      name: 'a child before its parent: the parent is not there yet at the child’s position (404, to retry)',
      events: batch(op.runCreate(), op.stepCreate(CHILD, RUN, STEP), op.stepCreate()),
      expected: ['insert-run', 'answered 404 PARENT_STEP_NOT_FOUND', 'insert-step'],
    },
    {
      name: 'an update before its create, and candidates before their step, are refused at their position',
      events: batch(op.stepUpdate(), op.candidates(), op.runCreate(), op.stepCreate()),
      expected: ['answered 404 STEP_NOT_FOUND', 'answered 404 STEP_NOT_FOUND', 'insert-run', 'insert-step'],
    },
    {
      name: 'a nested step whose parent the same batch creates is inserted in the same statement',
      events: batch(op.runCreate(), op.stepCreate(), op.stepCreate(CHILD, RUN, STEP)),
      expected: ['insert-run', 'insert-step', 'insert-step'],
    },
    {
      name: 'a replayed step waits in order and its candidates after it; a child of the stored step is still grouped',
      events: batch(op.stepCreate(), op.candidates(), op.stepCreate(CHILD, RUN, STEP)),
      before: stored({ runs: [[RUN, P]], steps: [[STEP, P, RUN]] }),
      expected: ['in-order', 'in-order', 'insert-step'],
    },
    {
      name: 'candidates for keys an earlier event of the batch wrote are applied after it, in order',
      events: batch(op.candidates(), op.candidates(STEP, ['B0XYZ', 'B0NEW'])),
      before: stored({ runs: [[RUN, P]], steps: [[STEP, P, RUN]] }),
      expected: ['candidates', 'in-order'],
    },
    {
      name: 'a repeated event id answers like its first occurrence',
      events: batch(op.runCreate(), { eventId: 'e0', operation: op.runCreate() }),
      expected: ['insert-run', 'same-as e0'],
    },
    {
      name: 'ids of another project conflict (409) and reveal nothing; its runs are not found (404)',
      events: batch(op.runCreate(), op.stepCreate(STEP, id(9))),
      before: stored({
        runs: [
          [RUN, OTHER],
          [id(9), OTHER],
        ],
      }),
      expected: ['answered 409 ID_CONFLICT', 'answered 404 RUN_NOT_FOUND'],
    },
    {
      name: 'invalid events keep their own answer',
      events: batch({ eventId: 'bad', failure: { id: 'bad', status: 400 } }, op.runCreate()),
      expected: ['answered 400', 'insert-run'],
    },
  ];

  it.each(cases)('$name', ({ events, before, expected }) => {
    expect(summary(planBatch(P, events, before ?? stored()))).toEqual(expected);
  });

  it('folds an update into its insert, and carries the batch’s candidate counts into the new step', () => {
    const plan = planBatch(P, batch(op.runCreate(), op.stepCreate(), op.candidates(), op.stepUpdate(), op.runUpdate()), stored());
    expect(plan.runInserts).toEqual([
      expect.objectContaining({ event: 0, updateEvent: 4, run: expect.objectContaining({ update: { dto: { status: 'success' } } }) }),
    ]);
    expect(plan.stepInserts[0]).toMatchObject({ event: 1, updateEvent: 3, step: { pipeline: 'competitor-selection', stored: { in: 2, out: 1 } } });
    expect([...plan.countedSteps]).toEqual([STEP]);
    expect(plan.candidateWrites).toEqual([expect.objectContaining({ event: 2, stepId: STEP })]);
  });

  it('one by one: the same checks, nothing grouped, every other event in order', () => {
    const events = batch(op.runCreate(), op.stepCreate(CHILD, RUN, STEP), op.stepCreate(), op.candidates(), op.stepUpdate(), op.runUpdate());
    const plan = planBatch(P, events, stored(), { oneByOne: true });
    expect(summary(plan)).toEqual(['in-order', 'answered 404 PARENT_STEP_NOT_FOUND', 'in-order', 'in-order', 'in-order', 'in-order']);
    expect(plan.inOrder).toEqual([0, 2, 3, 4, 5]);
    expect([plan.runInserts, plan.stepInserts, plan.candidateWrites, plan.runUpdates, plan.stepUpdates]).toEqual([[], [], [], [], []]);
  });

  it('hands out a frozen plan', () => {
    const plan = planBatch(P, batch(op.runCreate()), stored());
    expect(Object.isFrozen(plan) && Object.isFrozen(plan.outcomes) && Object.isFrozen(plan.runInserts)).toBe(true);
  });
});
