import type { OtlpSpan } from './otlp-decode.js';
import { evaluationScores, evaluationsOf, isEvaluationAttribute } from './otlp-evaluations.js';
import { mapSpans, stepIdOf } from './otlp-mapping.js';

const P = '0193f2a4-6c1e-7b3a-9f2d-5e8c1a7b4d21';
const TRACE = 'cd'.repeat(16);
const span = (over: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: TRACE,
  spanId: '00000000000000a1',
  name: 'answer',
  kind: 1,
  startTimeUnixNano: 1764547200000000000n,
  endTimeUnixNano: 1764547201000000000n,
  attributes: {},
  events: [],
  status: { code: 0 },
  resource: {},
  scope: {},
  ...over,
});
const result = (attributes: Record<string, string | number>) => ({ name: 'gen_ai.evaluation.result', timeUnixNano: 1764547201000000000n, attributes });

describe('OTLP evaluations as scores', () => {
  it('reads gen_ai.evaluation.result events, gen_ai.evaluation.* attributes and OpenInference evaluations.N', () => {
    const s = span({
      events: [
        result({
          'gen_ai.evaluation.name': 'relevance',
          'gen_ai.evaluation.score.value': 0.82,
          'gen_ai.evaluation.score.label': 'relevant',
          'gen_ai.evaluation.explanation': 'on topic',
        }),
        result({ 'gen_ai.evaluation.name': 'toxicity', 'gen_ai.evaluation.score.label': 'none' }),
        result({ 'gen_ai.evaluation.name': 'kept', 'gen_ai.evaluation.score.value': 1, 'xray.candidate.key': 'doc-7' }),
        { name: 'exception', timeUnixNano: 1n, attributes: { 'gen_ai.evaluation.name': 'not-an-evaluation', 'gen_ai.evaluation.score.value': 1 } },
      ],
      attributes: {
        'gen_ai.evaluation.name': 'faithfulness',
        'gen_ai.evaluation.score.value': '0.5',
        'evaluations.1.evaluation.name': 'hallucination',
        'evaluations.1.evaluation.label': 'factual',
        'evaluations.1.evaluation.explanation': 'grounded in the documents',
        'evaluations.0.evaluation.name': 'qa-correctness',
        'evaluations.0.evaluation.score': 1,
        'evaluations.0.evaluation.label': 'correct',
        'other.attribute': 'x',
      },
    });
    expect(evaluationsOf(s)).toEqual([
      { name: 'relevance', value: 0.82, label: 'relevant', explanation: 'on topic', from: 'gen_ai.evaluation.result' },
      { name: 'toxicity', value: 'none', from: 'gen_ai.evaluation.result' },
      { name: 'kept', value: 1, key: 'doc-7', from: 'gen_ai.evaluation.result' },
      { name: 'faithfulness', value: 0.5, from: 'gen_ai.evaluation' },
      { name: 'qa-correctness', value: 1, label: 'correct', from: 'evaluations' },
      { name: 'hallucination', value: 'factual', explanation: 'grounded in the documents', from: 'evaluations' },
    ]);
    expect(isEvaluationAttribute('evaluations.12.evaluation.score')).toBe(true);
    expect(isEvaluationAttribute('gen_ai.evaluation.explanation')).toBe(true);
    expect(isEvaluationAttribute('other.attribute')).toBe(false);
  });

  it('skips evaluations without a name or without a value, takes the first of a name, and clips to the API limits', () => {
    const s = span({
      events: [
        result({ 'gen_ai.evaluation.score.value': 1 }),
        result({ 'gen_ai.evaluation.name': 'empty' }),
        result({ 'gen_ai.evaluation.name': 'nan', 'gen_ai.evaluation.score.value': 'not a number' }),
        result({ 'gen_ai.evaluation.name': 'dup', 'gen_ai.evaluation.score.value': 1 }),
        result({ 'gen_ai.evaluation.name': 'dup', 'gen_ai.evaluation.score.value': 2 }),
        result({
          'gen_ai.evaluation.name': 'n'.repeat(300),
          'gen_ai.evaluation.score.label': 'l'.repeat(300),
          'gen_ai.evaluation.explanation': 'e'.repeat(5000),
        }),
      ],
    });
    const found = evaluationsOf(s);
    // A score value that is not a number (and no label) is no score.
    expect(found.map((e) => e.name.slice(0, 4))).toEqual(['dup', 'nnnn']);
    expect(found[0].value).toBe(1);
    expect(found[1]).toMatchObject({ value: 'l'.repeat(200) });
    expect(found[1].name).toHaveLength(200);
    expect(found[1].explanation).toHaveLength(4000);
  });

  it('maps evaluations to score-create events after the step, with ids from the span and the name', () => {
    const s = span({
      attributes: { 'gen_ai.evaluation.name': 'relevance', 'gen_ai.evaluation.score.value': 0.9, 'gen_ai.evaluation.explanation': 'fine' },
    });
    const { events } = mapSpans(P, [s], new Set(), new Set());
    const stepId = stepIdOf(P, TRACE, s.spanId);
    const types = events.map((e) => e.event.type);
    expect(types.slice(-3)).toEqual(['step-create', 'step-update', 'score-create']);
    const score = events[events.length - 1];
    expect(score.spanId).toBe(s.spanId);
    expect(score.event.body).toEqual({
      id: expect.any(String),
      stepId,
      name: 'relevance',
      value: 0.9,
      source: 'evaluator',
      comment: 'fine',
      metadata: { otel: { spanId: s.spanId, from: 'gen_ai.evaluation' } },
    });
    // Deterministic: the same span maps to the same ids, another name or span to others.
    const again = mapSpans(P, [s], new Set(), new Set()).events.at(-1)!;
    expect(again.event).toEqual(score.event);
    const other = evaluationScores({ ...s, spanId: '00000000000000a2' }, stepId, (name, key) => `${name}:${key}:x`);
    expect(other[0].id).toBe('relevance:undefined:x');
    // The evaluation attributes are not repeated in the step's metadata.
    const step = events.find((e) => e.event.type === 'step-create')!;
    expect((step.event.body.metadata as { attributes?: unknown }).attributes).toBeUndefined();
  });
});
