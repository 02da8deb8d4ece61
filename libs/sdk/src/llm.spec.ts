import { FakeIngest, withFakeIngest } from '../test/fake-ingest.js';
import type { XrayClient } from './client.js';
import type { XrayError } from './errors.js';

describe('LLM steps in the SDK', () => {
  let server: FakeIngest;
  let xray: XrayClient;
  let errors: XrayError[];

  withFakeIngest((setup) => ({ server, xray, errors } = setup));

  it('sends the LLM fields given as step options with the step, and step.llm() as an update', async () => {
    const run = await xray.startRun({ pipeline: 'rag' });
    await run.step(
      'answer',
      async (step) => {
        step.llm({ usage: { input: 1200, output: 340, cacheRead: 1024 }, costUsd: 0.00042, timeToFirstTokenMs: 180 });
      },
      { type: 'llm', model: 'gpt-4o-mini', provider: 'openai', modelParameters: { temperature: 0.2 } },
    );
    await run.complete();
    await xray.flush();
    const events = server.events.filter((e) => e.type.startsWith('step'));
    expect(events.map((e) => e.type)).toEqual(['step-create', 'step-update', 'step-update']);
    expect(events[0].body).toMatchObject({ name: 'answer', type: 'llm', model: 'gpt-4o-mini', provider: 'openai', modelParameters: { temperature: 0.2 } });
    expect(events[1].body).toEqual({ id: events[0].body.id, usage: { input: 1200, output: 340, cacheRead: 1024 }, costUsd: 0.00042, timeToFirstTokenMs: 180 });
    expect(events[2].body).toMatchObject({ status: 'success' });
    expect(errors).toEqual([]);
  });

  it('leaves out LLM values the server would refuse, keeps the rest, and reports what it left out', async () => {
    const run = await xray.startRun({ pipeline: 'rag' });
    const step = run.startStep('call', { type: 'llm', model: '', provider: 'p'.repeat(300) });
    step.llm({ model: 'm', usage: { input: -1, output: 2.5, total: 10, junk: 3 } as never, costUsd: Number.NaN, modelParameters: [1] as never });
    step.llm({ usage: 'lots' as never });
    step.complete();
    await xray.flush();
    const [create, update] = server.events.filter((e) => e.type.startsWith('step'));
    expect(create.body).not.toHaveProperty('model');
    expect((create.body.provider as string).length).toBeLessThanOrEqual(100);
    expect(update.body).toEqual({ id: create.body.id, model: 'm', usage: { total: 10 } });
    expect(errors.map((e) => e.message)).toEqual([
      'step "call": LLM field(s) model left out (not a valid value)',
      'step "call": LLM field(s) modelParameters, costUsd, usage.input, usage.output left out (not a valid value)',
      'step "call": LLM field(s) usage left out (not a valid value)',
    ]);
  });
});
