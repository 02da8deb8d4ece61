/**
 * `npm run example -- <name>`: runs one example pipeline against a running xray server,
 * then prints the run id and the queries that explain it.
 *
 *   XRAY_API_KEY   a project key (the first start of `npm start` prints one)   required
 *   XRAY_BASE_URL  where the server is                                         default http://localhost:3000
 */
import { getHealth, XrayClient } from '@xray-sys/sdk';
import { competitorSelection } from './competitor-selection.js';
import { explainCompetitorSelection, explainRagAnswer, explainReview } from './explain.js';
import { reviewCompetitorSelection } from './review.js';
import { ragAnswer } from './rag-answer.js';

const EXAMPLES: Record<string, { about: string; run: (xray: XrayClient, baseUrl: string) => Promise<string[]> }> = {
  'competitor-selection': {
    about: 'keywords → search (~5,000 listings) → price/rating/category filters → rank → select; with a planted bug',
    run: async (xray, baseUrl) => {
      const result = await competitorSelection(xray);
      await landed(xray);
      // People judge the run afterwards: the shopper's report and a reviewer's batch of scores.
      const review = await reviewCompetitorSelection(xray, result);
      return [...(await explainCompetitorSelection(xray, result, baseUrl)), '', ...(await explainReview(xray, result, review, baseUrl))];
    },
  },
  'rag-answer': {
    about: 'query rewrite → retrieval → rerank → answer with a citation check',
    run: async (xray, baseUrl) => {
      const result = await ragAnswer(xray);
      await landed(xray);
      return explainRagAnswer(xray, result, baseUrl);
    },
  },
};

/** The explanations read the run back from xray, so everything must have been sent first. */
async function landed(xray: XrayClient): Promise<void> {
  if (!(await xray.flush({ timeoutMs: 30_000 }))) console.error('[xray] not everything was sent within 30 s; the explanation may be incomplete');
}

async function main(): Promise<number> {
  const name = process.argv[2];
  if (!name || !EXAMPLES[name]) {
    console.error(
      `usage: npm run example -- <name>\n\n${Object.entries(EXAMPLES)
        .map(([n, e]) => `  ${n.padEnd(22)} ${e.about}`)
        .join('\n')}`,
    );
    return 2;
  }
  const baseUrl = (process.env.XRAY_BASE_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
  const apiKey = process.env.XRAY_API_KEY;
  if (!apiKey) {
    console.error('Set XRAY_API_KEY to a project API key (the first `npm start` prints one for the "default" project).');
    return 2;
  }
  const xray = new XrayClient({ baseUrl, apiKey, onError: (e) => console.error(`[xray] ${e.kind}: ${e.message}`) });
  const health = await getHealth({ client: xray.api }).catch(() => undefined);
  if (!health?.response?.ok) {
    console.error(`No xray server answers at ${baseUrl}. Start one with \`npm start\` (or set XRAY_BASE_URL).`);
    await xray.shutdown({ timeoutMs: 0 });
    return 1;
  }
  const lines = await EXAMPLES[name].run(xray, baseUrl);
  const { drained } = await xray.shutdown({ timeoutMs: 5_000 });
  console.log(lines.join('\n'));
  const stats = xray.stats();
  console.log(
    `\nSDK: ${stats.sent} events sent in ${stats.batches} request(s)${stats.rejected + stats.dropped + stats.unsent ? `, ${stats.rejected} rejected, ${stats.dropped} dropped, ${stats.unsent} unsent` : ''}${drained ? '' : ' (not all answered in time)'}`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
