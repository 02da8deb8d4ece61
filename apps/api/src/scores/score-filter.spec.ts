import { parseScoreCondition, parseScoreFilters } from './score-filter.js';

describe('parseScoreCondition', () => {
  it.each([
    ['>=0.8', { kind: 'numeric', op: '>=', value: 0.8 }],
    ['>1', { kind: 'numeric', op: '>', value: 1 }],
    ['<-2.5', { kind: 'numeric', op: '<', value: -2.5 }],
    ['<=1e3', { kind: 'numeric', op: '<=', value: 1000 }],
    ['=0', { kind: 'numeric', op: '=', value: 0 }],
    ['true', { kind: 'boolean', value: true }],
    ['false', { kind: 'boolean', value: false }],
    ['good', { kind: 'categorical', value: 'good' }],
    ['0.8', { kind: 'categorical', value: '0.8' }],
    ['label:true', { kind: 'categorical', value: 'true' }],
    ['label:>=ok', { kind: 'categorical', value: '>=ok' }],
  ])('reads %s', (raw, expected) => {
    expect(parseScoreCondition('n', raw)).toEqual({ name: 'n', ...expected });
  });

  it.each([
    ['>=', 'after >= comes a number'],
    ['>=abc', 'after >= comes a number'],
    ['=NaN', 'after = comes a number'],
    ['>=Infinity', 'after >= comes a number'],
    ['<>1', 'use >x'],
    ['', 'needs a condition'],
    ['label:', 'needs a label'],
  ])('refuses %j, naming the parameter', (raw, message) => {
    const result = parseScoreCondition('relevance', raw);
    expect(typeof result).toBe('string');
    expect(result).toContain('score[relevance]');
    expect(result).toContain(message);
  });

  it('refuses a name given twice and too many names', () => {
    expect(parseScoreFilters({ a: ['>1', '<2'] })).toContain('score[a] is given more than once');
    expect(parseScoreFilters(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`n${i}`, 'true'])))).toContain('At most 10');
    expect(parseScoreFilters({ a: '>1', b: 'good' })).toHaveLength(2);
  });
});
