/** Step tree → flat rows for a virtualized list, with the waterfall geometry of each step. */

export interface TreeStep {
  id: string;
  name: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  children?: TreeStep[];
}

export interface TreeRow<S extends TreeStep = TreeStep> {
  step: S;
  depth: number;
  /** Index path from the root, e.g. [2, 0] for the first child of the third step. */
  hasChildren: boolean;
  parentId: string | null;
  /** Waterfall bar: left edge and width as fractions (0..1) of the run's time span. */
  offset: number;
  width: number;
}

export interface Span {
  start: number;
  end: number;
}

/** The time span a waterfall covers: the run's start to the latest end (or `now` for what still runs). */
export function timeSpan(runStartedAt: string, runEndedAt: string | null, steps: TreeStep[], now = Date.now()): Span {
  const start = Date.parse(runStartedAt);
  let end = runEndedAt ? Date.parse(runEndedAt) : start;
  const visit = (list: TreeStep[]) => {
    for (const s of list) {
      const e = s.endedAt ? Date.parse(s.endedAt) : now;
      if (e > end) end = e;
      const b = Date.parse(s.startedAt);
      if (b > end) end = b;
      if (s.children?.length) visit(s.children);
    }
  };
  visit(steps);
  if (
    !runEndedAt &&
    end < now &&
    steps.some(function running(s): boolean {
      return !s.endedAt || (s.children ?? []).some(running);
    })
  )
    end = now;
  return { start, end: Math.max(end, start + 1) };
}

/**
 * Pre-order rows (parents before their children, siblings in order), skipping the children of
 * collapsed steps. Bars are placed on the span: a step starting at the run's start with the
 * run's duration gets offset 0 and width 1; zero-length steps still get a visible sliver.
 */
export function flattenTree<S extends TreeStep>(steps: S[], span: Span, collapsed: ReadonlySet<string> = new Set(), now = Date.now()): TreeRow<S>[] {
  const rows: TreeRow<S>[] = [];
  const total = span.end - span.start;
  const walk = (list: S[], depth: number, parentId: string | null) => {
    for (const step of list) {
      const b = Date.parse(step.startedAt);
      const e = step.endedAt ? Date.parse(step.endedAt) : step.durationMs != null ? b + step.durationMs : now;
      const offset = clamp01((b - span.start) / total);
      const width = Math.max(0.002, Math.min(1 - offset, (Math.max(e, b) - b) / total));
      const children = (step.children ?? []) as S[];
      rows.push({ step, depth, hasChildren: children.length > 0, parentId, offset, width });
      if (children.length && !collapsed.has(step.id)) walk(children, depth + 1, step.id);
    }
  };
  walk(steps, 0, null);
  return rows;
}

/** Every step of a tree, in pre-order. */
export function allSteps<S extends TreeStep>(steps: S[]): S[] {
  const out: S[] = [];
  const walk = (list: S[]) => {
    for (const s of list) {
      out.push(s);
      if (s.children?.length) walk(s.children as S[]);
    }
  };
  walk(steps);
  return out;
}

/** Ids of the ancestors of a step (root first), to expand the tree down to a deep-linked step. */
export function ancestorsOf(steps: TreeStep[], id: string): string[] | null {
  const path: string[] = [];
  const walk = (list: TreeStep[]): boolean => {
    for (const s of list) {
      if (s.id === id) return true;
      path.push(s.id);
      if (s.children?.length && walk(s.children)) return true;
      path.pop();
    }
    return false;
  };
  return walk(steps) ? path : null;
}

/**
 * Rebuild a nested tree from a flat list of steps (parentStepId, position), as the paged
 * step listing of a big run returns them. Orphans (parent not in the list) become roots.
 */
export function buildTree<S extends { id: string; parentStepId: string | null; position: number }>(
  flat: S[],
): (S & { children: (S & { children: unknown[] })[] })[] {
  type N = S & { children: N[] };
  const byId = new Map<string, N>();
  for (const s of flat) byId.set(s.id, { ...s, children: [] });
  const roots: N[] = [];
  for (const n of byId.values()) {
    const parent = n.parentStepId ? byId.get(n.parentStepId) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  const sort = (list: N[]) => {
    list.sort((a, b) => a.position - b.position);
    for (const n of list) sort(n.children);
  };
  sort(roots);
  return roots as never;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 0;
}
