import type { ScoreDto } from '../scores/scores.dto.js';
import type { FullStepNode } from '../steps/steps.service.js';
import type { ScoreDifferenceDto, ScoreSideDto, StepComparisonDto, StepSideDto } from './run-comparison.dto.js';

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

/** The latest score of each name on one side (scores oldest first), with how many there were. */
function latestByName(scores: ScoreDto[]): Map<string, ScoreSideDto> {
  const out = new Map<string, ScoreSideDto>();
  for (const s of scores) out.set(s.name, { dataType: s.dataType, value: s.value, count: (out.get(s.name)?.count ?? 0) + 1 });
  return out;
}

/** Every score name either side has (by name), its latest value on each side and whether it changed. */
export function compareScores(leftScores: ScoreDto[], rightScores: ScoreDto[]): ScoreDifferenceDto[] {
  const l = latestByName(leftScores);
  const r = latestByName(rightScores);
  const names = [...new Set([...l.keys(), ...r.keys()])].sort();
  return names.map((name) => {
    const a = l.get(name) ?? null;
    const b = r.get(name) ?? null;
    const numeric = a !== null && b !== null && typeof a.value === 'number' && typeof b.value === 'number';
    return {
      name,
      left: a,
      right: b,
      changed: a === null || b === null || a.value !== b.value,
      delta: numeric ? (b.value as number) - (a.value as number) : null,
    };
  });
}

/** `stepScores`: each step's own scores by step id (oldest first). */
export function compareSteps(
  { paths, left, right }: ReturnType<typeof alignByPath>,
  kept: Map<string, { kept: Set<string>; rejected: Set<string> }>,
  stepScores: Map<string, ScoreDto[]> = new Map(),
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
    const scores = compareScores((l && stepScores.get(l.id)) ?? [], (r && stepScores.get(r.id)) ?? []);
    return { path: JSON.parse(path) as string[], left: l ? side(l) : null, right: r ? side(r) : null, differences, candidates, scores };
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
