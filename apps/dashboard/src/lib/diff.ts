/** Aligns the two step trees of a run comparison into rows for a side-by-side view. */

export interface SideStep {
  id: string;
  status: string;
  durationMs: number | null;
  candidatesIn: number;
  candidatesOut: number;
  eliminationRatio: number | null;
}

export interface ComparedStep {
  path: string[];
  left: SideStep | null;
  right: SideStep | null;
  differences: Record<string, { left: string | number | null; right: string | number | null }>;
  candidates: {
    keptLeftRejectedRight: string[];
    keptRightRejectedLeft: string[];
    keptLeftRejectedRightCount: number;
    keptRightRejectedLeftCount: number;
  } | null;
}

export interface DiffRow {
  key: string;
  name: string;
  depth: number;
  kind: 'both' | 'left-only' | 'right-only';
  left: SideStep | null;
  right: SideStep | null;
  changed: Set<string>;
  /** Duration change right vs left, as a fraction of left (null when either is missing). */
  durationDelta: number | null;
  flips: number;
}

export interface Flip {
  key: string;
  step: string;
  path: string[];
  direction: 'kept-left' | 'kept-right';
  leftStepId: string | null;
  rightStepId: string | null;
}

/**
 * Rows in path order: a parent comes before its children, and a step only one side has is
 * placed next to its siblings. Paths from the API are name paths (with `#n` for repeated names).
 */
export function alignSteps(steps: ComparedStep[]): DiffRow[] {
  const sorted = [...steps];
  // The API already returns pre-order; keep it, only make sure every parent precedes its children.
  const index = new Map(sorted.map((s, i) => [s.path.join('\u0000'), i]));
  sorted.sort((a, b) => comparePaths(a.path, b.path, index));
  return sorted.map((s) => {
    const changed = new Set(Object.keys(s.differences ?? {}));
    const kind = s.left && s.right ? 'both' : s.left ? 'left-only' : 'right-only';
    const dl = s.left?.durationMs;
    const dr = s.right?.durationMs;
    return {
      key: s.path.join('/'),
      name: s.path[s.path.length - 1] ?? '',
      depth: Math.max(0, s.path.length - 1),
      kind,
      left: s.left,
      right: s.right,
      changed,
      durationDelta: dl != null && dr != null && dl > 0 ? (dr - dl) / dl : null,
      flips: (s.candidates?.keptLeftRejectedRightCount ?? 0) + (s.candidates?.keptRightRejectedLeftCount ?? 0),
    } satisfies DiffRow;
  });
}

function comparePaths(a: string[], b: string[], index: Map<string, number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    const ia = index.get(a.slice(0, i + 1).join('\u0000')) ?? Number.MAX_SAFE_INTEGER;
    const ib = index.get(b.slice(0, i + 1).join('\u0000')) ?? Number.MAX_SAFE_INTEGER;
    return ia - ib || (a[i] < b[i] ? -1 : 1);
  }
  return a.length - b.length;
}

/** Every flipped candidate of a comparison, one row each. */
export function listFlips(steps: ComparedStep[]): Flip[] {
  const out: Flip[] = [];
  for (const s of steps) {
    if (!s.candidates) continue;
    const step = s.path.join(' › ');
    for (const key of s.candidates.keptLeftRejectedRight)
      out.push({ key, step, path: s.path, direction: 'kept-left', leftStepId: s.left?.id ?? null, rightStepId: s.right?.id ?? null });
    for (const key of s.candidates.keptRightRejectedLeft)
      out.push({ key, step, path: s.path, direction: 'kept-right', leftStepId: s.left?.id ?? null, rightStepId: s.right?.id ?? null });
  }
  return out;
}
