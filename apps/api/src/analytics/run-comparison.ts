import type { FullStepNode } from '../steps/steps.service.js';
import type { StepComparisonDto, StepSideDto } from './run-comparison.dto.js';

/** Pure parts of comparing two runs: steps aligned by path, their differences, the candidates that flipped. */

/** Flipped keys listed per side at most (the counts are exact). */
const MAX_FLIPS = 1000;

/** Steps keyed by their path of names (JSON), siblings with the same name numbered `#2`, `#3`… */
export function flattenByPath(roots: FullStepNode[]): Map<string, FullStepNode> {
  const out = new Map<string, FullStepNode>();
  const walk = (nodes: FullStepNode[], prefix: string[]) => {
    const seen = new Map<string, number>();
    for (const node of nodes) {
      const n = (seen.get(node.name) ?? 0) + 1;
      seen.set(node.name, n);
      const path = [...prefix, n === 1 ? node.name : `${node.name}#${n}`];
      out.set(JSON.stringify(path), node);
      walk(node.children, path);
    }
  };
  walk(roots, []);
  return out;
}

/** Both trees' steps by path: the first run's paths in its order, then those only the second has. */
export function alignByPath(leftTree: FullStepNode[], rightTree: FullStepNode[]) {
  const left = flattenByPath(leftTree);
  const right = flattenByPath(rightTree);
  const paths = [...left.keys(), ...[...right.keys()].filter((k) => !left.has(k))];
  return { paths, left, right };
}

/** Step ids of the aligned pairs where both sides stored candidates (their keys decide the flips). */
export function pairsWithCandidates({ paths, left, right }: ReturnType<typeof alignByPath>): string[] {
  return paths.flatMap((p) => {
    const l = left.get(p);
    const r = right.get(p);
    return l && r && l.candidatesStored > 0 && r.candidatesStored > 0 ? [l.id, r.id] : [];
  });
}

export function compareSteps(
  { paths, left, right }: ReturnType<typeof alignByPath>,
  kept: Map<string, { kept: Set<string>; rejected: Set<string> }>,
): StepComparisonDto[] {
  return paths.map((path) => {
    const l = left.get(path);
    const r = right.get(path);
    const differences: StepComparisonDto['differences'] = {};
    if (l && r) {
      for (const field of ['status', 'durationMs', 'candidatesIn', 'candidatesOut'] as const) {
        if (l[field] !== r[field]) differences[field] = { left: l[field], right: r[field] };
      }
    }
    let candidates: StepComparisonDto['candidates'] = null;
    if (l && r && kept.has(l.id) && kept.has(r.id)) {
      const a = kept.get(l.id)!;
      const b = kept.get(r.id)!;
      const keptLeft = [...a.kept].filter((k) => b.rejected.has(k)).sort();
      const keptRight = [...b.kept].filter((k) => a.rejected.has(k)).sort();
      candidates = {
        keptLeftRejectedRight: keptLeft.slice(0, MAX_FLIPS),
        keptRightRejectedLeft: keptRight.slice(0, MAX_FLIPS),
        keptLeftRejectedRightCount: keptLeft.length,
        keptRightRejectedLeftCount: keptRight.length,
      };
    }
    return { path: JSON.parse(path) as string[], left: l ? side(l) : null, right: r ? side(r) : null, differences, candidates };
  });
}

const side = (s: FullStepNode): StepSideDto => ({
  id: s.id,
  status: s.status,
  durationMs: s.durationMs,
  candidatesIn: s.candidatesIn,
  candidatesOut: s.candidatesOut,
  eliminationRatio: s.eliminationRatio,
});
