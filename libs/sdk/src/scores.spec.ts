import { fast, FakeIngest, withFakeIngest, type WireEvent } from '../test/fake-ingest.js';
import { XrayClient } from './client.js';
import type { XrayError } from './errors.js';
import type { EvaluatorContext } from './scores.js';
import { isUuidV7 } from './uuid.js';

const scoresOf = (events: WireEvent[]) => events.filter((e) => e.type === 'score-create').map((e) => e.body);

describe('scores recorded by the SDK', () => {
  let server: FakeIngest;
  let xray: XrayClient;
  let errors: XrayError[];

  withFakeIngest((setup) => ({ server, xray, errors } = setup));

  it('sends run, step and candidate scores as score-create events after what they judge', async () => {
    const run = await xray.startRun({ pipeline: 'p' });
    let stepId = '';
    await run.step('select', (step) => {
      stepId = step.id;
      step.candidates([{ key: 'B0CASE', decision: 'selected' }]);
      step.score('confidence', 0.4);
      step.scoreCandidate('B0CASE', 'correct', false, { comment: 'a phone case', author: 'qa', source: 'human', metadata: { ticket: 7 } });
    });
    run.score('verdict', 'bad', { id: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a20' });
    await run.complete();
    expect(await xray.flush()).toBe(true);

    const types = server.events.map((e) => e.type);
    expect(types).toEqual(['run-create', 'step-create', 'candidates-create', 'score-create', 'score-create', 'step-update', 'score-create', 'run-update']);
    const [step, candidate, runScore] = scoresOf(server.events);
    expect(step).toEqual({ id: step.id, stepId, name: 'confidence', value: 0.4, source: 'sdk' });
    expect(isUuidV7(step.id as string)).toBe(true);
    expect(candidate).toMatchObject({
      stepId,
      key: 'B0CASE',
      name: 'correct',
      value: false,
      source: 'human',
      comment: 'a phone case',
      author: 'qa',
      metadata: { ticket: 7 },
    });
    expect(runScore).toEqual({ id: '0193a2c6-7a00-7e1f-8a2b-3c4d5e6f7a20', runId: run.id, name: 'verdict', value: 'bad', source: 'sdk' });
    expect(errors).toEqual([]);
  });

  it('refuses a score the server would refuse without throwing, and reports it', async () => {
    const run = await xray.startRun({ pipeline: 'p' });
    const step = run.startStep('s');
    expect(() => run.score('', 1)).not.toThrow();
    expect(() => step.score('x', Number.NaN)).not.toThrow();
    expect(() => step.score('x', { no: 'object' } as never)).not.toThrow();
    expect(() => step.scoreCandidate('', 'x', 1)).not.toThrow();
    expect(() => step.score('x', 'a'.repeat(201))).not.toThrow();
    await xray.flush();
    expect(scoresOf(server.events)).toEqual([]);
    expect(errors.map((e) => e.kind)).toEqual(['usage', 'usage', 'usage', 'usage', 'usage']);
    expect(errors[1].message).toMatch(/finite number, a boolean or a label/);
  });

  it('runs evaluators when the run completes and records what they return as evaluator scores', async () => {
    const seen: EvaluatorContext[] = [];
    async function exactMatch(ctx: EvaluatorContext) {
      seen.push(ctx);
      await new Promise((r) => setTimeout(r, 50));
      return [
        { name: 'exact', value: (ctx.output as { selected: string }).selected === 'B0STAND' },
        { name: 'quality', value: 'poor', comment: 'not a stand' },
      ];
    }
    const judge = { name: 'llm-judge', evaluate: () => ({ name: 'faithfulness', value: 0.25, metadata: { model: 'm' } }) };
    const nothing = () => undefined;
    const run = await xray.startRun({ pipeline: 'p', input: { title: 'stand' }, evaluators: [exactMatch, judge, nothing] });
    await run.complete({ output: { selected: 'B0CASE' } });
    // complete() does not wait for the evaluators; flush does.
    expect(scoresOf(server.events)).toEqual([]);
    expect(await xray.flush()).toBe(true);

    expect(seen).toEqual([{ runId: run.id, pipeline: 'p', status: 'success', input: { title: 'stand' }, output: { selected: 'B0CASE' } }]);
    const scores = scoresOf(server.events);
    expect(scores.map(({ id: _id, ...s }) => s).sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      { runId: run.id, name: 'exact', value: false, source: 'evaluator', author: 'exactMatch' },
      { runId: run.id, name: 'faithfulness', value: 0.25, source: 'evaluator', author: 'llm-judge', metadata: { model: 'm' } },
      { runId: run.id, name: 'quality', value: 'poor', source: 'evaluator', author: 'exactMatch', comment: 'not a stand' },
    ]);
    // Every score comes after the run's ending.
    const types = server.events.map((e) => e.type);
    expect(types.lastIndexOf('run-update')).toBeLessThan(types.indexOf('score-create'));
    expect(errors).toEqual([]);
  });

  it('runs evaluators on a failed run too, with its error, and only once', async () => {
    const seen: EvaluatorContext[] = [];
    const run = await xray.startRun({ pipeline: 'p', evaluators: [(ctx) => (seen.push(ctx), { name: 'failed', value: ctx.status === 'error' })] });
    await run.fail(new TypeError('boom'));
    await run.complete();
    await xray.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ status: 'error', error: { type: 'TypeError', message: 'boom' } });
    expect(scoresOf(server.events)).toMatchObject([{ name: 'failed', value: true }]);
  });

  it('reports an evaluator that throws, times out or returns a non-score, and keeps the others', async () => {
    const c = new XrayClient({ baseUrl: server.url, apiKey: 'xr_unit', onError: (e) => errors.push(e), evaluatorTimeoutMs: 100, ...fast });
    const run = await c.startRun({
      pipeline: 'p',
      evaluators: [
        function thrower() {
          throw new Error('judge down');
        },
        async function rejecter() {
          throw new Error('async judge down');
        },
        { name: 'slow', evaluate: () => new Promise(() => {}) },
        () => [{ name: 'ok', value: 1 }, { name: 'bad-value', value: null as never }, 'junk' as never],
      ],
    });
    await run.complete();
    expect(await c.flush({ timeoutMs: 5000 })).toBe(true);
    await c.shutdown();
    expect(scoresOf(server.events)).toMatchObject([{ name: 'ok', value: 1, source: 'evaluator' }]);
    const messages = errors.filter((e) => e.kind === 'evaluator').map((e) => e.message);
    expect(messages).toHaveLength(5);
    expect(messages.join('\n')).toMatch(/"thrower".*threw judge down/);
    expect(messages.join('\n')).toMatch(/"rejecter".*threw async judge down/);
    expect(messages.join('\n')).toMatch(/"slow".*no answer within 100 ms/);
    expect(messages.join('\n')).toMatch(/bad-value.*finite number/);
    expect(messages.join('\n')).toMatch(/not a \{ name, value \} result/);
  });

  it('shutdown waits for running evaluators (within its deadline) and sends their scores', async () => {
    const run = await xray.startRun({ pipeline: 'p', evaluators: [async () => (await new Promise((r) => setTimeout(r, 100)), { name: 'late', value: true })] });
    await run.complete();
    const result = await xray.shutdown({ timeoutMs: 3000 });
    expect(result).toEqual({ drained: true, unsent: 0 });
    expect(scoresOf(server.events)).toMatchObject([{ name: 'late', value: true }]);
  });

  it('drops scores before runs and steps when the buffer is full', async () => {
    await server.stop();
    const c = new XrayClient({ baseUrl: server.url, apiKey: 'xr_unit', onError: (e) => errors.push(e), maxBufferEvents: 3, ...fast });
    const run = await c.startRun({ pipeline: 'p' });
    run.score('a', 1);
    run.score('b', 2);
    run.startStep('s');
    run.score('c', 3);
    const s = c.stats();
    expect(s.droppedByKind).toEqual({ runs: 0, steps: 0, candidates: 0, scores: 2 });
    await c.shutdown({ timeoutMs: 0 });
  });
});

describe('xray.score: feedback after the fact', () => {
  const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('posts one score to /v1/scores and resolves to the stored score', async () => {
    const requests: { url: string; method: string; auth: string | null; body: unknown }[] = [];
    const stored = { id: 's1', runId: 'r', stepId: 'st', key: 'B0CASE', target: 'candidate', name: 'correct', value: false };
    const spy: typeof fetch = async (input) => {
      const req = input as Request;
      requests.push({ url: req.url, method: req.method, auth: req.headers.get('authorization'), body: await req.json() });
      return reply(201, stored);
    };
    const xray = new XrayClient({ baseUrl: 'http://xray.invalid', apiKey: 'xr_feedback', fetch: spy, exitFlushTimeoutMs: 0 });
    const score = await xray.score({ stepId: 'st', key: 'B0CASE', name: 'correct', value: false, comment: 'not a stand', source: 'human', author: 'ana' });
    expect(score).toEqual(stored);
    expect(requests).toEqual([
      {
        url: 'http://xray.invalid/v1/scores',
        method: 'POST',
        auth: 'Bearer xr_feedback',
        body: { id: expect.any(String), stepId: 'st', key: 'B0CASE', name: 'correct', value: false, source: 'human', comment: 'not a stand', author: 'ana' },
      },
    ]);
    // Without a source the server's default (api) applies.
    await xray.score({ runId: 'r', name: 'thumbs', value: 'up' });
    expect(requests[1].body).toEqual({ id: expect.any(String), runId: 'r', name: 'thumbs', value: 'up' });
    await xray.shutdown();
  });

  it('rejects with the server status, and before sending when the score is unusable', async () => {
    let calls = 0;
    const spy: typeof fetch = async () => {
      calls++;
      return reply(404, { statusCode: 404, error: 'RUN_NOT_FOUND', message: 'Run r not found' });
    };
    const xray = new XrayClient({ baseUrl: 'http://xray.invalid', apiKey: 'xr_feedback', fetch: spy, exitFlushTimeoutMs: 0 });
    await expect(xray.score({ runId: 'r', name: 'x', value: 1 })).rejects.toMatchObject({
      kind: 'http',
      status: 404,
      message: expect.stringContaining('Run r not found'),
    });
    await expect(xray.score({ name: 'x', value: 1 } as never)).rejects.toMatchObject({ kind: 'usage' });
    await expect(xray.score({ runId: 'r', name: 'x', value: Number.POSITIVE_INFINITY })).rejects.toMatchObject({ kind: 'usage' });
    expect(calls).toBe(1);
    await xray.shutdown();
  });
});
