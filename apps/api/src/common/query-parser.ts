/**
 * Query-string parser: repeated keys become arrays, `metadata.<key>=<value>` and the OpenAPI
 * deepObject form `metadata[<key>]=<value>` (what Swagger UI and the generated SDK send) both
 * become `{ metadata: { key: value } }`, and `score.<name>` / `score[<name>]` likewise. Nothing
 * else nests, so a query can never build deep objects or touch prototypes.
 */
const NESTABLE = new Set(['metadata', 'score']);

/** `group.key` or `group[key]` for a nestable group, else undefined. */
function nested(name: string): [group: string, key: string] | undefined {
  const dot = name.indexOf('.');
  if (dot > 0 && NESTABLE.has(name.slice(0, dot))) return [name.slice(0, dot), name.slice(dot + 1)];
  const bracket = name.indexOf('[');
  if (bracket > 0 && name.endsWith(']') && NESTABLE.has(name.slice(0, bracket))) return [name.slice(0, bracket), name.slice(bracket + 1, -1)];
  return undefined;
}

export function parseQuery(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [name, value] of new URLSearchParams(raw)) {
    const path = nested(name);
    if (path) {
      const [group, key] = path;
      const target = (out[group] ??= Object.create(null)) as Record<string, unknown>;
      if (typeof target !== 'object' || Array.isArray(target)) continue;
      target[key] = key in target ? [target[key], value].flat() : value;
      continue;
    }
    const existing = out[name];
    out[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return { ...out };
}
