import type { ScoreDto } from '../scores/scores.dto.js';
import { compareScores } from './run-comparison.js';

const s = (name: string, value: number | boolean | string): ScoreDto =>
  ({ name, value, dataType: typeof value === 'number' ? 'numeric' : typeof value === 'boolean' ? 'boolean' : 'categorical' }) as ScoreDto;

describe('compareScores', () => {
  it.each([
    ['a numeric change, with its delta', [s('q', 0.5)], [s('q', 0.75)], { changed: true, delta: 0.25 }],
    ['the same value', [s('q', 1)], [s('q', 1)], { changed: false, delta: 0 }],
    ['a boolean flip', [s('ok', true)], [s('ok', false)], { changed: true, delta: null }],
    ['a label change', [s('v', 'good')], [s('v', 'bad')], { changed: true, delta: null }],
    ['a score only on the left', [s('q', 1)], [], { changed: true, delta: null, right: null }],
    ['a score only on the right', [], [s('q', 1)], { changed: true, delta: null, left: null }],
  ])('compares %s', (_, left, right, expected) => {
    const [diff] = compareScores(left, right);
    expect(diff).toMatchObject({ name: left[0]?.name ?? right[0]?.name, ...expected });
  });

  it('takes the latest score of a name on each side and counts them; names in order', () => {
    const diffs = compareScores([s('z', 1), s('q', 0.1), s('q', 0.4)], [s('q', 0.4)]);
    expect(diffs.map((d) => d.name)).toEqual(['q', 'z']);
    expect(diffs[0]).toEqual({
      name: 'q',
      left: { dataType: 'numeric', value: 0.4, count: 2 },
      right: { dataType: 'numeric', value: 0.4, count: 1 },
      changed: false,
      delta: 0,
    });
  });
});
