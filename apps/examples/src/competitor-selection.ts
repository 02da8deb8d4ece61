/**
 * Competitor selection: given a product, find the best competing listing.
 *
 *   keyword-generation (llm) → search (~5,000 candidates) → filter (price → rating → category)
 *   → rank → select
 *
 * It has a bug on purpose. Run it, see which "competitor" it picks for a laptop stand, and
 * find out why with xray (the runner prints the queries).
 */
import type { CandidateInput, Run, Step, XrayClient } from '@xray-sys/sdk';
import { makeCatalog, REFERENCE, type Product } from './catalog.js';

export const PIPELINE = 'competitor-selection';
const SEARCH_LIMIT = 5_000;

export interface CompetitorSelectionResult {
  runId: string;
  selected: Product;
  /** Step ids by step name, for the follow-up queries. */
  steps: Record<string, string>;
}

const STOPWORDS = new Set(['for', 'with', 'and', 'the', 'a', 'of']);
const words = (text: string): string[] =>
  text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w && !STOPWORDS.has(w));

/** Stands in for an LLM call: shopper phrases for the product. */
function generateKeywords(product: Product): { keywords: string[]; tokens: number } {
  const w = new Set(words(product.title));
  const phrases = ['laptop stand', 'adjustable laptop stand', 'aluminum laptop stand', 'laptop riser', 'ergonomic desk stand'];
  const keywords = phrases.filter((k) => k.split(' ').every((x) => w.has(x)));
  return { keywords, tokens: 180 + keywords.length * 7 };
}

/** Share of the keyword vocabulary the title mentions (0..1). */
function overlap(vocabulary: Set<string>, p: Product): number {
  let hit = 0;
  for (const w of new Set(words(p.title))) if (vocabulary.has(w)) hit++;
  return hit / vocabulary.size;
}

export async function competitorSelection(xray: XrayClient, opts: { catalogSize?: number } = {}): Promise<CompetitorSelectionResult> {
  const steps: Record<string, string> = {};
  const run: Run = await xray.startRun({
    pipeline: PIPELINE,
    pipelineVersion: '1.4.0',
    input: { product: REFERENCE },
    metadata: { marketplace: 'US', catalog: 'demo' },
    tags: ['example'],
    // Judges each run when it ends: recorded as an `evaluator` score on the run.
    evaluators: [
      {
        name: 'category-check',
        evaluate: ({ output }) => {
          const picked = (output as { competitor?: Product } | undefined)?.competitor;
          if (!picked) return undefined;
          return { name: 'same-category', value: picked.category === REFERENCE.category, comment: `picked from ${picked.category}` };
        },
      },
    ],
  });
  try {
    // 1. Keywords a shopper would search for.
    const keywords = await run.step(
      'keyword-generation',
      (step) => {
        steps[step.name] = step.id;
        const { keywords, tokens } = generateKeywords(REFERENCE);
        // What the model call used; without costUsd the server prices it from the project's model prices.
        step.llm({ usage: { input: 180, output: tokens }, timeToFirstTokenMs: 140 });
        step.complete({
          output: { keywords },
          reasoning: 'Phrases built from the title’s product noun and its distinguishing attributes',
        });
        return keywords;
      },
      {
        type: 'llm',
        model: 'demo-llm',
        provider: 'demo',
        modelParameters: { temperature: 0.2, maxTokens: 256 },
        input: { prompt: `Search phrases for: ${REFERENCE.title}` },
      },
    );
    const vocabulary = new Set(keywords.flatMap(words));

    // 2. Search: every listing that shares a word, best first.
    const found = await run.step(
      'search',
      (step) => {
        steps[step.name] = step.id;
        const results = makeCatalog(opts.catalogSize)
          .map((p) => ({ p, score: overlap(vocabulary, p) }))
          .filter((r) => r.score > 0)
          .sort((a, b) => b.score - a.score)
          .slice(0, SEARCH_LIMIT);
        step.candidates(
          results.map(({ p, score }, i): CandidateInput => ({
            key: p.asin,
            decision: 'accepted',
            score: round3(score),
            rank: i + 1,
            reason: 'matched keywords',
            data: p,
          })),
        );
        step.complete({
          output: { results: results.length },
          reasoning: `The ${SEARCH_LIMIT} best listings sharing at least one of ${vocabulary.size} keyword words`,
        });
        return results.map((r) => r.p);
      },
      { type: 'retrieval', input: { keywords, index: 'catalog-demo' } },
    );

    // 3. Filters, each a child step with a per-candidate evaluation.
    const filtered = await run.step(
      'filter',
      async (filter) => {
        steps[filter.name] = filter.id;
        const minPrice = round2(REFERENCE.price / 2);
        const maxPrice = round2(REFERENCE.price * 2);
        let pool = found;
        pool = await filter.step(
          'filter-by-price',
          (step) => {
            steps[step.name] = step.id;
            return applyFilter(step, pool, (p) => {
              const passed = p.price >= minPrice && p.price <= maxPrice;
              const detail =
                p.price > maxPrice
                  ? `$${p.price} > $${maxPrice}`
                  : p.price < minPrice
                    ? `$${p.price} < $${minPrice}`
                    : `$${minPrice} ≤ $${p.price} ≤ $${maxPrice}`;
              return { check: 'price', passed, detail, reason: p.price > maxPrice ? `price above $${maxPrice}` : `price below $${minPrice}` };
            });
          },
          { type: 'filter', input: { minPrice, maxPrice } },
        );
        pool = await filter.step(
          'filter-by-rating',
          (step) => {
            steps[step.name] = step.id;
            return applyFilter(step, pool, (p) => {
              if (p.rating < 4) return { check: 'rating', passed: false, detail: `${p.rating} < 4.0`, reason: 'rating below 4.0' };
              if (p.reviews < 50) return { check: 'rating', passed: false, detail: `${p.reviews} reviews < 50`, reason: 'fewer than 50 reviews' };
              return { check: 'rating', passed: true, detail: `${p.rating}★ from ${p.reviews} reviews`, reason: '' };
            });
          },
          { type: 'filter', input: { minRating: 4, minReviews: 50 } },
        );
        pool = await filter.step(
          'filter-by-category',
          (step) => {
            steps[step.name] = step.id;
            // Meant to let through listings filed under a neighbouring category that are
            // nonetheless stands ("Laptop Stand" filed under Tablet Stands). The test is a
            // substring match, so a "Kickstand" phone case is a stand too. (The planted bug.)
            const headWord = REFERENCE.category.toLowerCase().replace(/s$/, '').split(' ').pop()!;
            return applyFilter(step, pool, (p) => {
              if (p.category === REFERENCE.category) return { check: 'category', passed: true, detail: `category is ${p.category}`, reason: '' };
              if (p.title.toLowerCase().includes(headWord)) return { check: 'category', passed: true, detail: `title mentions "${headWord}"`, reason: '' };
              return { check: 'category', passed: false, detail: `${p.category} ≠ ${REFERENCE.category}`, reason: `category ${p.category}` };
            });
          },
          { type: 'filter', input: { category: REFERENCE.category } },
        );
        // The filter as a whole: exact totals and why candidates went, nothing stored twice.
        const survivors = new Set(pool.map((p) => p.asin));
        const droppedBy = (p: Product) => (p.price < minPrice || p.price > maxPrice ? 'price' : p.rating < 4 || p.reviews < 50 ? 'rating' : 'category');
        filter.candidates(
          found.map((p): CandidateInput =>
            survivors.has(p.asin)
              ? { key: p.asin, decision: 'accepted' }
              : { key: p.asin, decision: 'rejected', reason: `dropped by the ${droppedBy(p)} filter` },
          ),
          { capture: 'none' },
        );
        filter.complete({ output: { in: found.length, out: pool.length }, reasoning: 'price, then rating, then category' });
        return pool;
      },
      { type: 'filter' },
    );

    // 4. Rank what is left.
    const ranked = await run.step(
      'rank',
      (step) => {
        steps[step.name] = step.id;
        const scored = filtered
          .map((p) => ({ p, score: round3(0.6 * overlap(vocabulary, p) + 0.3 * (p.rating / 5) + 0.1 * (Math.log10(p.reviews + 1) / 5)) }))
          .sort((a, b) => b.score - a.score);
        step.candidates(
          scored.map(({ p, score }, i): CandidateInput => ({
            key: p.asin,
            decision: i < 10 ? 'accepted' : 'rejected',
            score,
            rank: i + 1,
            ...(i < 10 ? {} : { reason: 'not in the top 10' }),
          })),
        );
        step.complete({ output: { top: scored.slice(0, 10).map((s) => s.p.asin) }, reasoning: 'score = 0.6·keyword overlap + 0.3·rating + 0.1·log(reviews)' });
        return scored;
      },
      { type: 'rank', input: { weights: { overlap: 0.6, rating: 0.3, reviews: 0.1 } } },
    );

    // 5. Select the best.
    const selected = await run.step(
      'select',
      (step) => {
        steps[step.name] = step.id;
        const top = ranked.slice(0, 10);
        step.candidates(
          top.map(({ p, score }, i): CandidateInput => ({
            key: p.asin,
            decision: i === 0 ? 'selected' : 'rejected',
            score,
            rank: i + 1,
            ...(i === 0 ? { reason: 'highest score' } : { reason: 'lower score than the selected listing' }),
          })),
        );
        const best = top[0].p;
        step.complete({ output: { asin: best.asin, title: best.title }, reasoning: `Highest ranked of ${top.length}` });
        return best;
      },
      { type: 'custom' },
    );

    await run.complete({ output: { competitor: selected } });
    return { runId: run.id, selected, steps };
  } catch (err) {
    await run.fail(err);
    throw err;
  }
}

interface Verdict {
  check: string;
  passed: boolean;
  detail: string;
  reason: string;
}

/** Records one filter's decision for every candidate (sampled storage, exact counts) and returns the survivors. */
function applyFilter(step: Step, pool: Product[], judge: (p: Product) => Verdict): Product[] {
  const kept: Product[] = [];
  const list: CandidateInput[] = pool.map((p) => {
    const v = judge(p);
    if (v.passed) kept.push(p);
    return {
      key: p.asin,
      decision: v.passed ? 'accepted' : 'rejected',
      ...(v.passed ? {} : { reason: v.reason }),
      evaluations: [{ check: v.check, passed: v.passed, detail: v.detail }],
      data: { title: p.title, category: p.category, price: p.price, rating: p.rating },
    };
  });
  step.candidates(list, { capture: 'sample', samplePerReason: 50 });
  step.complete({ output: { in: pool.length, out: kept.length } });
  return kept;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
