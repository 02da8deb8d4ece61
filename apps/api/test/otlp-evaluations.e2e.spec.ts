import request from 'supertest';
import { runIdOf, stepIdOf } from '../src/otlp/otlp-mapping.js';
import { createTestApp, type TestApp } from './harness.js';

/** Evaluation results in OTLP traces (GenAI events and attributes, OpenInference lists) become scores. */
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const dbl = (key: string, value: number) => ({ key, value: { doubleValue: value } });
const int = (key: string, value: number) => ({ key, value: { intValue: String(value) } });
const at = (ms: number) => String(BigInt(Date.UTC(2026, 10, 30, 12, 0, 0)) * 1_000_000n + BigInt(ms) * 1_000_000n);
const hexId = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0');

function trace(n: number) {
  const traceId = hexId(n, 16);
  const root = hexId(n * 16 + 1, 8);
  const retrieve = hexId(n * 16 + 2, 8);
  const spans = [
    {
      traceId,
      spanId: retrieve,
      parentSpanId: root,
      name: 'retrieve',
      startTimeUnixNano: at(10),
      endTimeUnixNano: at(50),
      attributes: [
        str('openinference.span.kind', 'RETRIEVER'),
        str('retrieval.documents.0.document.id', 'doc-1'),
        str('retrieval.documents.1.document.id', 'doc-2'),
        str('evaluations.0.evaluation.name', 'relevance'),
        dbl('evaluations.0.evaluation.score', 0.25),
        str('evaluations.0.evaluation.label', 'irrelevant'),
        str('evaluations.0.evaluation.explanation', 'documents about phone cases'),
      ],
      events: [
        {
          name: 'gen_ai.evaluation.result',
          timeUnixNano: at(50),
          attributes: [str('gen_ai.evaluation.name', 'doc-relevance'), int('gen_ai.evaluation.score.value', 0), str('xray.candidate.key', 'doc-2')],
        },
      ],
    },
    {
      traceId,
      spanId: root,
      name: 'answer',
      startTimeUnixNano: at(0),
      endTimeUnixNano: at(100),
      attributes: [
        str('gen_ai.workflow.name', 'otlp-evals'),
        str('gen_ai.evaluation.name', 'faithfulness'),
        dbl('gen_ai.evaluation.score.value', 0.9),
        str('gen_ai.evaluation.explanation', 'grounded'),
      ],
      events: [
        {
          name: 'gen_ai.evaluation.result',
          timeUnixNano: at(100),
          attributes: [str('gen_ai.evaluation.name', 'answer-quality'), str('gen_ai.evaluation.score.label', 'good')],
        },
      ],
    },
  ];
  return { traceId, root, retrieve, spans };
}

const exportOf = (spans: unknown[]) => ({
  resourceSpans: [{ resource: { attributes: [str('service.name', 'shop')] }, scopeSpans: [{ scope: { name: 't' }, spans }] }],
});

describe('OTLP evaluations → scores', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  const post = (spans: unknown[]) =>
    request(t.http)
      .post('/v1/traces')
      .set('Authorization', `Bearer ${project.key}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(exportOf(spans)));
  const scores = async (runId: string) =>
    (await request(t.http).get(`/v1/scores?runId=${runId}&limit=100`).set('Authorization', `Bearer ${project.key}`).expect(200)).body.items as Record<
      string,
      unknown
    >[];

  beforeAll(async () => {
    t = await createTestApp();
    project = await t.newProject('otlp-evals');
  });
  afterAll(async () => t?.close());

  it('stores each evaluation as an evaluator score on its step (or candidate), once however often the trace is exported', async () => {
    const { traceId, root, retrieve, spans } = trace(7);
    const res = await post(spans);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const runId = runIdOf(project.id, traceId);
    const rootStep = stepIdOf(project.id, traceId, root);
    const retrieveStep = stepIdOf(project.id, traceId, retrieve);
    const stored = await scores(runId);
    const byName = Object.fromEntries(stored.map((s) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['answer-quality', 'doc-relevance', 'faithfulness', 'relevance']);
    expect(byName.faithfulness).toMatchObject({ target: 'step', stepId: rootStep, value: 0.9, dataType: 'numeric', source: 'evaluator', comment: 'grounded' });
    expect(byName['answer-quality']).toMatchObject({ target: 'step', stepId: rootStep, value: 'good', dataType: 'categorical' });
    expect(byName.relevance).toMatchObject({
      target: 'step',
      stepId: retrieveStep,
      value: 0.25,
      comment: 'documents about phone cases',
      metadata: { label: 'irrelevant', otel: { spanId: retrieve, from: 'evaluations' } },
    });
    expect(byName['doc-relevance']).toMatchObject({ target: 'candidate', stepId: retrieveStep, key: 'doc-2', value: 0 });
    // The evaluation attributes are scores now, not step metadata.
    const step = (await request(t.http).get(`/v1/steps/${rootStep}`).set('Authorization', `Bearer ${project.key}`).expect(200)).body;
    expect(Object.keys(step.metadata.attributes ?? {}).filter((k) => k.startsWith('gen_ai.evaluation'))).toEqual([]);

    // A re-export (even reordered) is a replay: the same scores, none added.
    expect((await post([...spans].reverse())).status).toBe(200);
    const again = await scores(runId);
    expect(again.map((s) => s.id).sort()).toEqual(stored.map((s) => s.id).sort());
  });

  it('a configuration refusing an evaluation is said in the partial success', async () => {
    await request(t.http)
      .post('/v1/score-configs')
      .set('Authorization', `Bearer ${project.key}`)
      .send({ name: 'faithfulness', dataType: 'categorical', labels: ['yes', 'no'] })
      .expect(201);
    const { spans } = trace(8);
    const res = await post(spans);
    expect(res.status).toBe(200);
    expect(res.body.partialSuccess.errorMessage).toMatch(/faithfulness/);
  });
});
