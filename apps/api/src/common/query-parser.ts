/**
 * Query-string parser: repeated keys become arrays, `metadata.<key>=<value>` becomes
 * `{ metadata: { key: value } }`. Nothing else nests, so a query can never build deep objects
 * or touch prototypes.
 */
const NESTABLE = new Set(['metadata']);

export function parseQuery(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [name, value] of new URLSearchParams(raw)) {
    const dot = name.indexOf('.');
    if (dot > 0 && NESTABLE.has(name.slice(0, dot))) {
      const group = name.slice(0, dot);
      const key = name.slice(dot + 1);
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
