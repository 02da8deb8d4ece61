/**
 * After a competitor-selection run, people judge it: a shopper reports the phone case as wrong
 * (feedback sent later, `xray.score`), and a reviewer goes through what the run's filters
 * rejected and its final top 10, marking each listing `correct` or not (a batch of `human`
 * scores on those candidates). Across runs, `GET /v1/analytics/score-rejections` then says
 * which step keeps dropping listings people marked correct.
 */
import { createScores, listCandidates, type CreateScoreDto, type XrayClient } from '@xray-sys/sdk';
import { makeCatalog, PLANTED, REFERENCE, type Product } from './catalog.js';
import type { CompetitorSelectionResult } from './competitor-selection.js';

/** Kinds of product that compete with a laptop stand: laptop stands, and tablet stands that hold a laptop too. */
const COMPETING_CATEGORIES = new Set(['Laptop Stands', 'Tablet Stands']);

/**
 * The reviewer's judgement (the ground truth the pipeline should have found): a listing of a
 * competing kind, at a comparable price, well rated.
 */
export function isGoodCompetitor(p: Product): boolean {
  return COMPETING_CATEGORIES.has(p.category) && p.price >= REFERENCE.price / 2 && p.price <= REFERENCE.price * 2 && p.rating >= 4 && p.reviews >= 50;
}

/** The steps a reviewer looks at: each filter's rejections (what the run stored of them) and the final choice. */
const REVIEWED: { step: string; decision?: 'rejected' }[] = [
  { step: 'filter-by-price', decision: 'rejected' },
  { step: 'filter-by-rating', decision: 'rejected' },
  { step: 'filter-by-category', decision: 'rejected' },
  { step: 'select' },
];

export interface Review {
  /** The shopper's report on the selected listing, as stored. */
  report: { id: string; value: unknown };
  /** Listings the reviewer scored, and how many of them were good. */
  scored: number;
  good: number;
}

export async function reviewCompetitorSelection(xray: XrayClient, result: CompetitorSelectionResult): Promise<Review> {
  // The shopper's report comes later, through the feedback path: one score on the selected
  // candidate, the reviewer's verdict in its comment.
  const report = await xray.score({
    stepId: result.steps.select,
    key: result.selected.asin,
    name: 'correct',
    value: isGoodCompetitor(result.selected),
    source: 'human',
    author: 'shopper-feedback',
    comment: result.selected.asin === PLANTED.asin ? 'A phone case is not a competitor of a laptop stand.' : 'Reported by a shopper.',
  });

  const catalog = new Map(makeCatalog().map((p) => [p.asin, p]));
  const scores: CreateScoreDto[] = [];
  for (const { step, decision } of REVIEWED) {
    const stepId = result.steps[step];
    let cursor: string | undefined;
    do {
      const page = await listCandidates({ client: xray.api, path: { stepId }, query: { decision, limit: 500, cursor }, throwOnError: true });
      for (const c of page.data.items) {
        const p = catalog.get(c.key);
        // The selected listing was judged by the shopper already.
        if (!p || (step === 'select' && c.key === result.selected.asin)) continue;
        scores.push({ stepId, key: c.key, name: 'correct', value: isGoodCompetitor(p), source: 'human', author: 'reviewer' });
      }
      cursor = page.data.nextCursor ?? undefined;
    } while (cursor);
  }
  for (let i = 0; i < scores.length; i += 500) {
    await createScores({ client: xray.api, body: { scores: scores.slice(i, i + 500) }, throwOnError: true });
  }
  return { report: { id: report.id, value: report.value }, scored: scores.length + 1, good: scores.filter((s) => s.value === true).length };
}
