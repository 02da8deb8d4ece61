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
