import { globMatches, globToRegex, specificity } from './model-pattern.js';

describe('model-name patterns (globs)', () => {
  it.each([
    ['gpt-4o-mini*', 'gpt-4o-mini', true],
    ['gpt-4o-mini*', 'gpt-4o-mini-2024-07-18', true],
    ['gpt-4o-mini*', 'GPT-4o-Mini', true],
    ['gpt-4o-mini*', 'gpt-4o', false],
    ['gpt-4o', 'gpt-4o-mini', false],
    ['claude-3-?-sonnet*', 'claude-3-5-sonnet-20241022', true],
    ['claude-3-?-sonnet*', 'claude-3-57-sonnet', false],
    ['*', 'anything at all', true],
    ['a.b', 'axb', false],
    ['a.b', 'a.b', true],
    ['x(y)+[z]', 'x(y)+[z]', true],
    ['us.anthropic.claude*', 'us.anthropic.claude-3-haiku', true],
  ])('%s against %s: %s', (glob, model, expected) => {
    expect(globMatches(glob, model)).toBe(expected);
  });

  it('escapes every character that means something in a regular expression', () => {
    expect(globToRegex('a.b$^|\\(')).toBe('^a\\.b\\$\\^\\|\\\\\\($');
  });

  it('ranks patterns by their literal characters', () => {
    expect(specificity('gpt-4o-mini')).toBeGreaterThan(specificity('gpt-4o-mini*'));
    expect(specificity('gpt-4o-mini*')).toBeGreaterThan(specificity('gpt-4o*'));
    expect(specificity('*')).toBe(0);
  });
});
