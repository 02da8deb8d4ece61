/**
 * Model-name patterns of model prices: globs, matched against a step's whole model name,
 * case-insensitively. `*` stands for any run of characters (none included), `?` for exactly one;
 * every other character stands for itself. `gpt-4o-mini*` matches `gpt-4o-mini` and
 * `gpt-4o-mini-2024-07-18`; `*` matches every model.
 */

export const MAX_PATTERN_LENGTH = 200;

/** The anchored PostgreSQL regular expression (for `~*`) that a glob stands for. */
export function globToRegex(glob: string): string {
  let out = '^';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += /[A-Za-z0-9 _-]/.test(ch) ? ch : `\\${ch}`;
  }
  return out + '$';
}

/**
 * How specific a glob is: its literal characters, and a pattern without wildcards above a glob
 * with as many. Among patterns matching a model, the most specific wins.
 */
export function specificity(glob: string): number {
  const literal = [...glob].filter((ch) => ch !== '*' && ch !== '?').length;
  return literal * 2 + (literal === [...glob].length ? 1 : 0);
}

/** Whether a glob matches a model name (what the database does with globToRegex, for tests and the dashboard). */
export const globMatches = (glob: string, model: string): boolean => new RegExp(globToRegex(glob), 'i').test(model);
