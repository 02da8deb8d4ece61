/** What the runner prints after an example: the run, and the queries that explain it. */
import { getRun, getScoreRejections, getStep, searchCandidates, type XrayClient } from '@xray-sys/sdk';
import { REFERENCE } from './catalog.js';
import type { CompetitorSelectionResult } from './competitor-selection.js';
import type { RagResult } from './rag-answer.js';
import type { Review } from './review.js';

export interface LineageStep {
  step: string;
  decision: string;
  detail: string;
}

/** The selected listing's path through the run, read back from xray (`GET /v1/candidates?key=…`). */
export async function lineage(xray: XrayClient, result: CompetitorSelectionResult): Promise<LineageStep[]> {
  const res = await searchCandidates({ client: xray.api, query: { key: result.selected.asin, pipeline: 'competitor-selection', limit: 100 } });
  const order = Object.values(result.steps);
  const items = (res.data?.items ?? []).filter((c) => c.runId === result.runId).sort((a, b) => order.indexOf(a.stepId) - order.indexOf(b.stepId));
  return items.map((c) => ({
    step: c.stepName,
    decision: c.decision,
    detail: [
      // A long list of evaluations arrives as a preview string (see `truncated`).
      Array.isArray(c.evaluations) ? c.evaluations.map((e) => `${e.check}: ${e.detail ?? (e.passed ? 'passed' : 'failed')}`).join('; ') : c.evaluations,
      c.score !== null ? `score ${c.score}` : '',
      c.rank !== null ? `rank ${c.rank}` : '',
      c.reason ?? '',
    ]
      .filter(Boolean)
      .join(', '),
  }));
}

function curlHeader(baseUrl: string, runId: string): string[] {
  return [
    'Explore it yourself:',
    `  BASE=${baseUrl}; RUN=${runId}; H="Authorization: Bearer $XRAY_API_KEY"`,
    '  curl -s $BASE/v1/runs/$RUN -H "$H"                      # the run, its step tree, candidate counts',
  ];
}

export async function explainCompetitorSelection(xray: XrayClient, result: CompetitorSelectionResult, baseUrl: string): Promise<string[]> {
  const s = result.selected;
  const path = await lineage(xray, result);
  const width = Math.max(...path.map((p) => p.step.length), 4);
  const cat = result.steps['filter-by-category'];
  // The exact histogram of the whole list (the stored candidates are only a sample).
  const catDetail = (await getStep({ client: xray.api, path: { id: cat } })).data;
  const reasons = (catDetail?.metadata?.xray as { reasons?: Record<string, number> } | undefined)?.reasons ?? {};
  const run = (await getRun({ client: xray.api, path: { id: result.runId } })).data;
  const filter = run?.steps.find((x) => x.name === 'filter');
  const catStep = filter?.children.find((x) => x.name === 'filter-by-category');
  return [
    `Run ${result.runId} (competitor-selection): ${run?.status ?? '?'} in ${run?.durationMs ?? '?'} ms`,
    `Competitor picked for "${REFERENCE.title}" (${REFERENCE.category}):`,
    `  ${s.asin} "${s.title}" (${s.category})${s.category !== REFERENCE.category ? '   <-- a different kind of product' : ''}`,
    '',
    `Its path through the run, from xray (GET /v1/candidates?key=${s.asin}):`,
    ...path.map((p) => `  ${p.step.padEnd(width)}  ${p.decision.padEnd(8)}  ${p.detail}`),
    '',
    `filter-by-category: ${catStep?.candidatesIn ?? '?'} in, ${catStep?.candidatesOut ?? '?'} out (${catStep?.candidatesStored ?? '?'} stored); rejected: ${
      Object.entries(reasons)
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${r} ×${n}`)
        .join(', ') || '-'
    }`,
    '',
    ...curlHeader(baseUrl, result.runId),
    `  curl -s "$BASE/v1/candidates?key=${s.asin}&pipeline=competitor-selection" -H "$H"   # every step that weighed it, and why`,
    `  curl -s "$BASE/v1/steps/${cat}/candidates?decision=accepted&limit=50" -H "$H"   # what the category filter let through`,
    `  curl -s $BASE/v1/steps/${cat}/candidates/summary -H "$H"`,
    `  curl -s "$BASE/v1/steps?name=filter-by-category&pipeline=competitor-selection" -H "$H"   # the category filter across runs, with elimination ratios`,
  ];
}

export async function explainRagAnswer(xray: XrayClient, result: RagResult, baseUrl: string): Promise<string[]> {
  const run = (await getRun({ client: xray.api, path: { id: result.runId } })).data;
  return [
    `Run ${result.runId} (rag-answer): ${run?.status ?? '?'} in ${run?.durationMs ?? '?'} ms`,
    `Answer: ${result.answer}`,
    '',
    'Steps:',
    ...(run?.steps ?? []).map(
      (s) =>
        `  ${s.name.padEnd(14)} ${s.type.padEnd(10)} ${s.candidatesIn} in, ${s.candidatesOut} out${s.children.length ? `; children: ${s.children.map((c) => c.name).join(', ')}` : ''}`,
    ),
    '',
    ...curlHeader(baseUrl, result.runId),
    `  curl -s "$BASE/v1/steps/${result.steps.rerank}/candidates?decision=rejected" -H "$H"   # what the reranker dropped, and why`,
    `  curl -s $BASE/v1/steps/${result.steps.retrieve}/candidates/summary -H "$H"`,
    `  curl -s $BASE/v1/steps/${result.steps.answer} -H "$H"   # the prompt context, the answer and its reasoning`,
  ];
}

/**
 * The scores of a reviewed run, and the cross-run question they answer: which step rejected the
 * listings people marked correct (`GET /v1/analytics/score-rejections`).
 */
export async function explainReview(xray: XrayClient, result: CompetitorSelectionResult, review: Review, baseUrl: string): Promise<string[]> {
  const answer = (
    await getScoreRejections({ client: xray.api, query: { pipeline: 'competitor-selection', name: 'correct', good: 'true' }, throwOnError: true })
  ).data;
  const width = Math.max(...answer.steps.map((s) => s.stepName.length), 4);
  return [
    `Scores: the selected ${result.selected.asin} marked correct=${String(review.report.value)} (a shopper's report, POST /v1/scores);`,
    `a reviewer marked ${review.scored - 1} listings the filters rejected or the final top 10 held (${review.good} correct).`,
    '',
    `Which step drops listings people marked correct? Over the last 7 days of competitor-selection (${answer.scoredItems} scored items, ${answer.goodItems} good):`,
    ...answer.steps.map(
      (s) =>
        `  ${s.stepName.padEnd(width)}  rejected ${String(s.rejectedGood).padStart(4)} good of ${String(s.rejected).padStart(4)} scored (${(s.share * 100).toFixed(0)}%)  e.g. ${s.exampleKeys.slice(0, 3).join(', ')}`,
    ),
    '',
    `  curl -s "$BASE/v1/analytics/score-rejections?pipeline=competitor-selection&name=correct&good=true" -H "$H"`,
    `  curl -s "$BASE/v1/scores?runId=${result.runId}&name=correct&limit=5" -H "$H"   # the scores themselves`,
    `  curl -s "$BASE/v1/runs?pipeline=competitor-selection&score%5Bsame-category%5D=false" -H "$H"   # runs whose pick is from another category`,
    `Dashboard: ${baseUrl}/ui/runs/${result.runId}?step=${result.steps.select}`,
  ];
}
