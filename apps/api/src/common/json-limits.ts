/**
 * Limits a parsed JSON body must respect, checked in one pass without recursion (so a hostile
 * body cannot blow the stack): nesting depth, string length, and no `__proto__` keys.
 */
export interface JsonLimits {
  maxDepth: number;
  maxStringLength: number;
}

export type JsonViolation = { kind: 'depth'; path: string } | { kind: 'string'; path: string } | { kind: 'proto'; path: string };

export function checkJson(value: unknown, limits: JsonLimits): JsonViolation | undefined {
  // Bodies almost always pass: a first pass checks without building any path (a 5,000-candidate
  // body has ~100,000 values), and only a body that fails is walked again to name where.
  return withinLimits(value, limits) ? undefined : locateViolation(value, limits);
}

/** The same rules as locateViolation, answering only whether a body keeps them. */
function withinLimits(value: unknown, limits: JsonLimits): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v === 'string') {
      if (v.length > limits.maxStringLength) return false;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limits.maxDepth) return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === 'object' && item !== null) {
          values.push(item);
          depths.push(depth + 1);
        } else if (typeof item === 'string' && item.length > limits.maxStringLength) return false;
      }
      continue;
    }
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      if (key === '__proto__' || key.length > limits.maxStringLength) return false;
      const item = (v as Record<string, unknown>)[key];
      if (typeof item === 'object' && item !== null) {
        values.push(item);
        depths.push(depth + 1);
      } else if (typeof item === 'string' && item.length > limits.maxStringLength) return false;
    }
  }
  return true;
}

function locateViolation(value: unknown, limits: JsonLimits): JsonViolation | undefined {
  const stack: [unknown, number, string][] = [[value, 1, '']];
  while (stack.length) {
    const [v, depth, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > limits.maxStringLength) return { kind: 'string', path };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limits.maxDepth) return { kind: 'depth', path };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], depth + 1, `${path}[${i}]`]);
      continue;
    }
    for (const key of Object.keys(v)) {
      if (key === '__proto__') return { kind: 'proto', path: path ? `${path}.${key}` : key };
      if (key.length > limits.maxStringLength) return { kind: 'string', path };
      stack.push([(v as Record<string, unknown>)[key], depth + 1, path ? `${path}.${key}` : key]);
    }
  }
  return undefined;
}
