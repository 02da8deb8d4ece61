import { createApiKey, type Run, XrayClient } from '@xray-sys/sdk';
import { competitorSelection, type CompetitorSelectionResult } from '../../examples/src/competitor-selection.js';
import { ragAnswer, type RagResult } from '../../examples/src/rag-answer.js';

export const XSS = '<img src=x onerror=alert(1)>';

export interface Seeded {
  competitor: CompetitorSelectionResult;
  competitor2: CompetitorSelectionResult;
  rag: RagResult;
  large: { runId: string; hugeStepId: string; payloadStepId: string };
  flip: { left: string; right: string };
  xss: { runId: string; stepId: string };
}

/** Everything the browser tests look at, sent through the SDK as a user's pipelines would. */
export async function seed(xray: XrayClient): Promise<Seeded> {
  const competitor = await competitorSelection(xray);
  const rag = await ragAnswer(xray);
  const flip = await flipRuns(xray);
  const xss = await xssRun(xray);
  const large = await largeRun(xray);
  const competitor2 = await competitorSelection(xray);
  if (!(await xray.flush({ timeoutMs: 120_000 }))) throw new Error('seeding did not finish in time');
  const stats = xray.stats();
  if (stats.rejected || stats.dropped) throw new Error(`seeding lost events: ${JSON.stringify(stats)}`);
  return { competitor, competitor2, rag, large, flip, xss };
}

/** 2,000 steps (20 stages of 1 + 99 children), one step with 10,000 candidates, one 300 KB output. */
async function largeRun(xray: XrayClient): Promise<Seeded['large']> {
  const run: Run = await xray.startRun({ pipeline: 'bulk-scoring', pipelineVersion: '2.0.0', input: { batch: 'large' }, tags: ['large'] });
  const t0 = Date.now() - 60_000;
  let hugeStepId = '';
  let payloadStepId = '';
  for (let stage = 0; stage < 20; stage++) {
    const parent = run.startStep(`stage-${String(stage).padStart(2, '0')}`, { type: 'custom', input: { stage } });
    for (let i = 0; i < 99; i++) {
      const child = parent.startStep(`score-${stage}-${i}`, { type: i % 3 === 0 ? 'filter' : 'transform', input: { shard: i } });
      if (stage === 3 && i === 0) {
        hugeStepId = child.id;
        const list = Array.from({ length: 10_000 }, (_, n) => ({
          key: `SKU${String(n).padStart(5, '0')}`,
          decision: n % 4 === 0 ? ('accepted' as const) : ('rejected' as const),
          score: Math.round(((n * 7919) % 1000) / 10) / 100,
          reason: n % 4 === 0 ? undefined : ['score below threshold', 'duplicate listing', 'missing price'][n % 3],
          evaluations: [{ check: 'threshold', passed: n % 4 === 0, detail: `score ${n % 100}` }],
          data: { title: `Item ${n}`, price: n % 90 },
        }));
        child.candidates(list, { capture: 'all' });
      }
      if (stage === 5 && i === 1) {
        payloadStepId = child.id;
        child.complete({ output: { rows: Array.from({ length: 6000 }, (_, n) => ({ n, text: `row ${n} of a large output payload` })) } });
        continue;
      }
      child.complete({ output: { ok: true, t: t0 + stage * 1000 + i } });
    }
    parent.complete({ output: { stage } });
  }
  await run.complete({ output: { scored: 10_000 } });
  return { runId: run.id, hugeStepId, payloadStepId };
}

/** Two runs of one pipeline where B0FLIP is kept by the filter in the first and rejected in the second. */
async function flipRuns(xray: XrayClient): Promise<Seeded['flip']> {
  const ids: string[] = [];
  for (const flipped of [false, true]) {
    const run = await xray.startRun({ pipeline: 'flip-demo', input: { flipped }, tags: ['compare'] });
    await run.step(
      'filter-by-stock',
      (step) => {
        step.candidates([
          { key: 'B0KEEP', decision: 'accepted' },
          { key: 'B0FLIP', decision: flipped ? 'rejected' : 'accepted', reason: flipped ? 'out of stock' : undefined },
          { key: 'B0DROP', decision: 'rejected', reason: 'out of stock' },
        ]);
      },
      { type: 'filter' },
    );
    await run.complete({ output: { kept: flipped ? 1 : 2 } });
    ids.push(run.id);
  }
  return { left: ids[0], right: ids[1] };
}

/** A reason, a key and a payload carrying markup: the dashboard must show them as text. */
async function xssRun(xray: XrayClient): Promise<Seeded['xss']> {
  const run = await xray.startRun({ pipeline: 'xss-check', input: { note: XSS } });
  let stepId = '';
  await run.step(
    'filter-by-markup',
    (step) => {
      stepId = step.id;
      step.candidates([
        { key: 'B0XSS', decision: 'rejected', reason: XSS, data: { title: XSS } },
        { key: '<b>bold-key</b>', decision: 'accepted' },
      ]);
      step.complete({ reasoning: `reasoning with ${XSS}` });
    },
    { type: 'filter' },
  );
  await run.complete({ output: { html: XSS } });
  return { runId: run.id, stepId };
}

export async function newKey(xray: XrayClient, name: string, scopes: ('read' | 'ingest' | 'admin')[]): Promise<{ id: string; key: string }> {
  const res = await createApiKey({ client: xray.api, body: { name, scopes } });
  if (!res.data) throw new Error(`creating key failed: ${res.response.status}`);
  return { id: res.data.id, key: res.data.key };
}
