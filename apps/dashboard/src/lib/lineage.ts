/** One candidate key across runs: runs across, steps down, the deciding reason per cell. */

export interface Evaluation {
  runId: string;
  stepId: string;
  stepName: string;
  pipeline: string;
  decision: 'accepted' | 'rejected' | 'selected';
  reason: string | null;
  score: number | null;
  createdAt: string;
  /** Per-check results; a preview string when the list cut them short. */
  evaluations?: { check: string; passed: boolean; detail?: string }[] | string | null;
}

export interface LineageCell {
  evaluation: Evaluation;
  /** The reason differs from the same step's reason in the previous run that evaluated it. */
  reasonChanged: boolean;
  decisionChanged: boolean;
}

export interface LineageGrid {
  runs: { runId: string; pipeline: string; at: string }[];
  steps: string[];
  /** cells[stepIndex][runIndex] */
  cells: (LineageCell | null)[][];
}

/** The text a reader compares: the reason, or the failed checks when no reason was given. */
export function decidingReason(e: Evaluation): string {
  if (e.reason) return e.reason;
  if (typeof e.evaluations === 'string') return e.evaluations;
  const checks = e.evaluations ?? [];
  const failed = checks.filter((c) => !c.passed);
  if (failed.length) return failed.map((c) => (c.detail ? `${c.check}: ${c.detail}` : c.check)).join('; ');
  const passed = checks.filter((c) => c.passed && c.detail);
  return passed.map((c) => `${c.check}: ${c.detail}`).join('; ');
}

export function buildLineage(items: Evaluation[]): LineageGrid {
  const runTime = new Map<string, { runId: string; pipeline: string; at: string }>();
  const stepOrder = new Map<string, number>();
  for (const e of items) {
    const r = runTime.get(e.runId);
    if (!r || e.createdAt < r.at) runTime.set(e.runId, { runId: e.runId, pipeline: e.pipeline, at: e.createdAt });
  }
  const runs = [...runTime.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.runId < b.runId ? -1 : 1));
  const runIndex = new Map(runs.map((r, i) => [r.runId, i]));
  // Steps ordered by when they first evaluated the key within a run (pipeline order). The API
  // lists newest first and steps written in one batch share a time, so ties keep the reversed order.
  const byRun = [...items]
    .reverse()
    .sort((a, b) => runIndex.get(a.runId)! - runIndex.get(b.runId)! || (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  for (const e of byRun) if (!stepOrder.has(e.stepName)) stepOrder.set(e.stepName, stepOrder.size);
  const steps = [...stepOrder.keys()];
  const cells: (LineageCell | null)[][] = steps.map(() => runs.map(() => null));
  for (const e of byRun) {
    cells[stepOrder.get(e.stepName)!][runIndex.get(e.runId)!] = { evaluation: e, reasonChanged: false, decisionChanged: false };
  }
  for (const row of cells) {
    let prev: LineageCell | null = null;
    for (const cell of row) {
      if (!cell) continue;
      if (prev) {
        cell.reasonChanged = decidingReason(prev.evaluation) !== decidingReason(cell.evaluation);
        cell.decisionChanged = prev.evaluation.decision !== cell.evaluation.decision;
      }
      prev = cell;
    }
  }
  return { runs, steps, cells };
}
