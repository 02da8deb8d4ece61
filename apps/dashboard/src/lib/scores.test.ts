import { describe, expect, it } from 'vitest';
import {
  candidateKey,
  canScore,
  fmtScoreValue,
  groupScores,
  labelsByCount,
  parseScoreFilter,
  parseScoreInput,
  scoreSeriesOf,
  scoreTone,
  type Score,
} from './scores.js';

const score = (over: Partial<Score>): Score =>
  ({
    id: 'id',
    runId: 'r1',
    stepId: null,
    key: null,
    target: 'run',
    name: 'correct',
    dataType: 'boolean',
    value: true,
    comment: null,
    source: 'human',
    author: null,
    metadata: null,
    createdAt: '2026-12-01T10:00:00.000Z',
    updatedAt: '2026-12-01T10:00:00.000Z',
    ...over,
  }) as Score;

describe('scores in the dashboard', () => {
  it('groups a run’s scores by run, step and candidate, oldest first', () => {
    const g = groupScores([
      score({ id: 'c2', stepId: 's1', key: 'B0CASE', target: 'candidate', createdAt: '2026-12-01T10:00:02.000Z' }),
      score({ id: 'r', createdAt: '2026-12-01T10:00:03.000Z' }),
      score({ id: 's', stepId: 's1', target: 'step' }),
      score({ id: 'c1', stepId: 's1', key: 'B0CASE', target: 'candidate', createdAt: '2026-12-01T10:00:01.000Z' }),
      score({ id: 'other', stepId: 's2', key: 'B0CASE', target: 'candidate' }),
    ]);
    expect(g.run.map((s) => s.id)).toEqual(['r']);
    expect(g.steps.get('s1')?.map((s) => s.id)).toEqual(['s']);
    expect(g.candidates.get(candidateKey('s1', 'B0CASE'))?.map((s) => s.id)).toEqual(['c1', 'c2']);
    expect(g.candidates.get(candidateKey('s2', 'B0CASE'))?.map((s) => s.id)).toEqual(['other']);
    expect(g.steps.has('s2')).toBe(false);
  });

  it('formats and colours values', () => {
    expect(fmtScoreValue(true)).toBe('✓ true');
    expect(fmtScoreValue(false)).toBe('✗ false');
    expect(fmtScoreValue(0.123456)).toBe('0.123');
    expect(fmtScoreValue(3)).toBe('3');
    expect(fmtScoreValue('good')).toBe('good');
    expect([scoreTone(true), scoreTone(false), scoreTone(0.2), scoreTone('bad')]).toEqual(['good', 'bad', 'neutral', 'neutral']);
  });

  it('turns the runs list’s score filter into the API’s score[<name>]=<condition>', () => {
    expect(parseScoreFilter('correct=false')).toEqual({ name: 'correct', condition: 'false', query: { correct: 'false' } });
    expect(parseScoreFilter(' faithfulness >= 0.8 ')).toEqual({ name: 'faithfulness', condition: '>=0.8', query: { faithfulness: '>=0.8' } });
    expect(parseScoreFilter('latency<2')).toMatchObject({ query: { latency: '<2' } });
    expect(parseScoreFilter('rating=4')).toMatchObject({ query: { rating: '=4' } });
    expect(parseScoreFilter('verdict=good')).toMatchObject({ query: { verdict: 'good' } });
    expect(parseScoreFilter('verdict==x')).toMatchObject({ query: { verdict: 'label:=x' } });
    expect(parseScoreFilter('quality>high')).toEqual({ error: '> compares with a number: quality><number>' });
    expect(parseScoreFilter('just-a-name')).toHaveProperty('error');
    expect(parseScoreFilter('=true')).toHaveProperty('error');
  });

  it('reads the add-score form’s value by its kind', () => {
    expect(parseScoreInput('boolean', 'false')).toEqual({ value: false });
    expect(parseScoreInput('number', ' 0.5 ')).toEqual({ value: 0.5 });
    expect(parseScoreInput('number', 'abc')).toEqual({ error: 'Enter a number' });
    expect(parseScoreInput('number', '')).toEqual({ error: 'Enter a number' });
    expect(parseScoreInput('label', ' good ')).toEqual({ value: 'good' });
    expect(parseScoreInput('label', 'x'.repeat(201))).toHaveProperty('error');
  });

  it('reads per-score series from a pipeline analytics answer, and ranks labels', () => {
    const series = scoreSeriesOf({
      runs: {},
      scores: [
        {
          name: 'faithfulness',
          dataType: 'numeric',
          points: [
            { start: '2026-12-01T00:00:00.000Z', count: 2, mean: 0.6 },
            { start: '2026-12-02T00:00:00.000Z', count: 1, mean: 0.3 },
            { start: '2026-12-03T00:00:00.000Z', count: 0, mean: null },
          ],
        },
        {
          name: 'verdict',
          dataType: 'categorical',
          points: [
            { start: '2026-12-01T00:00:00.000Z', count: 3, labels: { good: 1, bad: 2 } },
            { start: '2026-12-02T00:00:00.000Z', count: 2, labels: [{ label: 'good', count: 2 }] },
          ],
        },
        { dataType: 'numeric' },
      ],
    });
    expect(series).toEqual([
      {
        name: 'faithfulness',
        dataType: 'numeric',
        count: 3,
        mean: expect.closeTo(0.5, 9),
        points: [
          { start: '2026-12-01T00:00:00.000Z', count: 2, mean: 0.6, labels: {} },
          { start: '2026-12-02T00:00:00.000Z', count: 1, mean: 0.3, labels: {} },
          { start: '2026-12-03T00:00:00.000Z', count: 0, mean: null, labels: {} },
        ],
      },
      {
        name: 'verdict',
        dataType: 'categorical',
        count: 5,
        mean: null,
        points: [
          { start: '2026-12-01T00:00:00.000Z', count: 3, mean: null, labels: { good: 1, bad: 2 } },
          { start: '2026-12-02T00:00:00.000Z', count: 2, mean: null, labels: { good: 2 } },
        ],
      },
    ]);
    expect(labelsByCount(series[1])).toEqual([
      { label: 'good', count: 3 },
      { label: 'bad', count: 2 },
    ]);
    expect(scoreSeriesOf({ runs: {} })).toEqual([]);
    expect(scoreSeriesOf(undefined)).toEqual([]);
  });

  it('lets ingest, feedback and admin keys score', () => {
    expect(canScore(['read'])).toBe(false);
    expect(canScore(['read', 'ingest'])).toBe(true);
    expect(canScore(['feedback'])).toBe(true);
    expect(canScore(['admin'])).toBe(true);
    expect(canScore(undefined)).toBe(false);
  });
});
