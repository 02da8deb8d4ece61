import type { CandidateInputDto } from './generated/types.gen.js';

/** What a step decided for a candidate, as the API defines it. */
export type Decision = CandidateInputDto['decision'];
export const DECISIONS = ['accepted', 'rejected', 'selected'] as const satisfies readonly Decision[];
/** Fails to compile when the API gains a decision this list lacks. */
const everyDecisionListed: Exclude<Decision, (typeof DECISIONS)[number]> extends never ? true : false = true;
void everyDecisionListed;

/** One item a step weighed, with what it decided and why. */
export interface CandidateInput {
  /** The item's own id (e.g. a product id); unique within the step. Numbers are turned into strings. */
  key: string | number;
  decision: Decision;
  score?: number;
  /** 1 = best. */
  rank?: number;
  /** Why it was decided so, e.g. `price above $50`. Reasons are counted exactly, so keep them categorical. */
  reason?: string;
  /** Per-check results, e.g. `{ check: 'price', passed: false, detail: '$89 > $50' }`. */
  evaluations?: { check: string; passed: boolean; detail?: string }[];
  /** The item itself (passes through `mask`). */
  data?: unknown;
}

/**
 * - `all`: store every candidate (up to the client's `captureAllLimit`, past which the list is sampled);
 * - `sample`: store every accepted and selected candidate plus `samplePerReason` rejected ones per
 *   reason, chosen by a hash of the key, so the same keys are picked in every run;
 * - `none`: store none.
 * Totals and the reason histogram always describe the whole list.
 */
export type CaptureMode = 'all' | 'sample' | 'none';

export interface CandidatesOptions {
  capture?: CaptureMode;
  /** Rejected candidates kept per reason when sampling (default: the client's `samplePerReason`, 50). */
  samplePerReason?: number;
}

/** What a step records about its candidates (in `metadata.xray` and the step's counters). */
export interface CandidateStats {
  /** The capture actually used; `mixed` when calls to `candidates()` used different ones. */
  capture: CaptureMode | 'mixed';
  /** Candidates considered: the whole list, whatever was stored. */
  total: number;
  /** Candidates kept (accepted or selected). */
  out: number;
  /** Candidates sent to be stored. */
  stored: number;
  byDecision: Record<Decision, number>;
  /** Every reason with its count over the whole list (candidates without a reason are not listed). */
  reasons: Record<string, number>;
  /** Present when the histogram had more distinct reasons than it keeps: how many were left out. */
  reasonsOmitted?: number;
  /** The per-reason sample size, when sampling. */
  samplePerReason?: number;
  /** Set when `all` was asked for a list longer than `captureAllLimit`. */
  sampledAbove?: number;
  /** Items skipped because they had no usable key (1–500 characters) or an unknown decision. */
  invalid?: number;
  /**
   * Present when the SDK's buffer was full and it dropped some of the candidates chosen to be
   * stored (candidate detail goes before runs and steps): the server holds `stored` minus this
   * many. `total`, `out` and the reasons still describe the whole list.
   */
  candidatesDropped?: number;
}

/** 32-bit FNV-1a: a fast, stable hash of a key, for deterministic sampling. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const isDecision = (d: unknown): d is Decision => d === 'accepted' || d === 'rejected' || d === 'selected';

/** The API takes keys of 1 to 500 characters; a key cannot be shortened without changing its identity. */
const validKey = (k: unknown): boolean => (typeof k === 'string' && k.length > 0 && k.length <= 500) || (typeof k === 'number' && Number.isFinite(k));

export interface Selection {
  /** Indexes into the list of the candidates to store, in list order. */
  keep: number[] | 'all' | 'none';
  capture: CaptureMode;
  total: number;
  out: number;
  byDecision: Record<Decision, number>;
  reasons: Map<string, number>;
  invalid: number[];
  sampledAbove?: number;
}

/**
 * Counts the whole list and picks what to store. Runs on the pipeline's thread, so it makes
 * one pass plus, when sampling, a sort of the oversized reason groups only.
 */
export function selectCandidates(list: readonly CandidateInput[], capture: CaptureMode, samplePerReason: number, captureAllLimit: number): Selection {
  const byDecision: Record<Decision, number> = { accepted: 0, rejected: 0, selected: 0 };
  const reasons = new Map<string, number>();
  const invalid: number[] = [];
  const n = list.length;
  for (let i = 0; i < n; i++) {
    const c = list[i];
    if (!c || !isDecision(c.decision) || !validKey(c.key)) {
      invalid.push(i);
      continue;
    }
    byDecision[c.decision]++;
    const r = c.reason;
    if (typeof r === 'string' && r !== '') reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  const total = n - invalid.length;
  const out = byDecision.accepted + byDecision.selected;
  const base = { total, out, byDecision, reasons, invalid };

  let mode = capture;
  let sampledAbove: number | undefined;
  if (mode === 'all' && total > captureAllLimit) {
    mode = 'sample';
    sampledAbove = captureAllLimit;
  }
  if (mode === 'none') return { ...base, keep: 'none', capture: 'none' };
  if (mode === 'all') return { ...base, keep: invalid.length ? validIndexes(n, invalid) : 'all', capture: 'all' };

  // sample: all kept candidates, plus up to N rejected ones per reason (smallest key hashes).
  const groups = new Map<string, number[]>();
  const chosen = new Uint8Array(n);
  const bad = new Set(invalid);
  for (let i = 0; i < n; i++) {
    if (bad.has(i)) continue;
    const c = list[i];
    if (c.decision !== 'rejected') {
      chosen[i] = 1;
      continue;
    }
    const reason = typeof c.reason === 'string' ? c.reason : '';
    let g = groups.get(reason);
    if (!g) groups.set(reason, (g = []));
    g.push(i);
  }
  for (const g of groups.values()) {
    if (g.length <= samplePerReason) {
      for (const i of g) chosen[i] = 1;
      continue;
    }
    const hashed = g.map((i) => ({ i, h: hashKey(String(list[i].key)) }));
    hashed.sort((a, b) => a.h - b.h || a.i - b.i);
    for (let k = 0; k < samplePerReason; k++) chosen[hashed[k].i] = 1;
  }
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (chosen[i]) keep.push(i);
  return { ...base, keep, capture: 'sample', ...(sampledAbove !== undefined ? { sampledAbove } : {}) };
}

function validIndexes(n: number, invalid: number[]): number[] {
  const bad = new Set(invalid);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (!bad.has(i)) keep.push(i);
  return keep;
}

/** Running totals of one step over all its `candidates()` calls. */
export class CandidateTally {
  total = 0;
  out = 0;
  stored = 0;
  invalid = 0;
  /** Stored-to-be candidates the buffer dropped. */
  dropped = 0;
  readonly byDecision: Record<Decision, number> = { accepted: 0, rejected: 0, selected: 0 };
  readonly reasons = new Map<string, number>();
  private captures = new Set<CaptureMode>();
  private samplePerReason?: number;
  private sampledAbove?: number;

  add(sel: Selection, stored: number, samplePerReason: number): void {
    this.total += sel.total;
    this.out += sel.out;
    this.stored += stored;
    this.invalid += sel.invalid.length;
    for (const d of DECISIONS) this.byDecision[d] += sel.byDecision[d];
    for (const [r, c] of sel.reasons) this.reasons.set(r, (this.reasons.get(r) ?? 0) + c);
    this.captures.add(sel.capture);
    if (sel.capture === 'sample') this.samplePerReason = samplePerReason;
    if (sel.sampledAbove !== undefined) this.sampledAbove = sel.sampledAbove;
  }

  /** The summary for `metadata.xray`, keeping at most `maxReasons` reasons (most frequent first). */
  toStats(maxReasons: number): CandidateStats {
    const sorted = [...this.reasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const kept = sorted.slice(0, maxReasons);
    const capture = this.captures.size === 1 ? [...this.captures][0] : 'mixed';
    return {
      capture,
      total: this.total,
      out: this.out,
      stored: this.stored,
      byDecision: { ...this.byDecision },
      reasons: Object.fromEntries(kept),
      ...(sorted.length > kept.length ? { reasonsOmitted: sorted.length - kept.length } : {}),
      ...(this.samplePerReason !== undefined ? { samplePerReason: this.samplePerReason } : {}),
      ...(this.sampledAbove !== undefined ? { sampledAbove: this.sampledAbove } : {}),
      ...(this.invalid ? { invalid: this.invalid } : {}),
      ...(this.dropped ? { candidatesDropped: this.dropped } : {}),
    };
  }
}
