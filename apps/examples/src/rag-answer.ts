/**
 * A retrieval-augmented answer chain, a different shape from competitor selection:
 *
 *   rewrite-query (llm) → retrieve (lexical, top 40 of ~600 chunks) → rerank (top 5)
 *   → answer (llm) ⊃ check-citations (tool)
 *
 * Few candidates but LLM steps with prompts, outputs and reasoning, and a nested check.
 */
import type { CandidateInput, XrayClient } from '@xray-sys/sdk';
import { pick, seeded } from './random.js';

export const PIPELINE = 'rag-answer';

export interface Chunk {
  id: string;
  doc: string;
  text: string;
}

export interface RagResult {
  runId: string;
  answer: string;
  citations: string[];
  steps: Record<string, string>;
}

const QUESTION = 'How do I reset the router to factory settings?';

const DOCS = ['router-manual', 'router-faq', 'mesh-setup-guide', 'printer-manual', 'thermostat-guide', 'release-notes'];
const TOPICS: Record<string, string[]> = {
  'router-manual': [
    'Press and hold the reset button for 10 seconds to restore factory settings.',
    'The reset button is on the back panel next to the power port.',
    'After a factory reset the default admin password is printed on the label.',
    'Use the web interface to update the firmware.',
  ],
  'router-faq': [
    'If the lights blink amber, restart the router.',
    'A factory reset erases your Wi-Fi name and password.',
    'Forgot your password? Reset the router to factory settings.',
  ],
  'mesh-setup-guide': ['Place satellites within two rooms of the router.', 'To reset a satellite, hold its button until the light turns red.'],
  'printer-manual': ['To reset the printer, open the settings menu and choose factory defaults.', 'Replace the toner when the light blinks.'],
  'thermostat-guide': ['Hold the dial for 5 seconds to reset the schedule.', 'The thermostat keeps settings during a power cut.'],
  'release-notes': ['Version 2.1 fixes a bug where settings were lost after a reset.', 'Improved Wi-Fi stability.'],
};

/** ~600 chunks of product documentation, always the same. */
export function makeCorpus(seed = 7): Chunk[] {
  const rand = seeded(seed);
  const chunks: Chunk[] = [];
  for (let i = 0; i < 600; i++) {
    const doc = pick(rand, DOCS);
    const text = `${pick(rand, TOPICS[doc])} ${pick(rand, TOPICS[pick(rand, DOCS)])}`;
    chunks.push({ id: `${doc}#${i}`, doc, text });
  }
  return chunks;
}

const terms = (s: string) =>
  s
    .toLowerCase()
    .split(/[^a-z0-9-]+/)
    .filter((w) => w.length > 2);

export async function ragAnswer(xray: XrayClient, question = QUESTION): Promise<RagResult> {
  const steps: Record<string, string> = {};
  const run = await xray.startRun({ pipeline: PIPELINE, input: { question }, tags: ['example'], metadata: { corpus: 'support-docs' } });
  try {
    const query = await run.step(
      'rewrite-query',
      (step) => {
        steps[step.name] = step.id;
        const rewritten = `${question} factory reset button default settings`;
        step.llm({ usage: { input: 48, output: 16 }, costUsd: 0.000012, timeToFirstTokenMs: 95 });
        step.complete({
          output: { query: rewritten },
          reasoning: 'Added the phrases support articles use for this task',
        });
        return rewritten;
      },
      { type: 'llm', model: 'demo-llm-mini', provider: 'demo', modelParameters: { temperature: 0 }, input: { prompt: `Rewrite for search: ${question}` } },
    );

    const qTerms = new Set(terms(query));
    const retrieved = await run.step(
      'retrieve',
      (step) => {
        steps[step.name] = step.id;
        const scored = makeCorpus()
          .map((c) => ({ c, score: terms(c.text).filter((t) => qTerms.has(t)).length / qTerms.size }))
          .sort((a, b) => b.score - a.score || (a.c.id < b.c.id ? -1 : 1));
        step.candidates(
          scored.map(({ c, score }, i): CandidateInput => ({
            key: c.id,
            decision: i < 40 ? 'accepted' : 'rejected',
            score: Math.round(score * 1000) / 1000,
            rank: i + 1,
            ...(i < 40 ? {} : { reason: score === 0 ? 'no query term' : 'not in the top 40' }),
            data: c,
          })),
          { capture: 'sample', samplePerReason: 20 },
        );
        step.complete({ output: { kept: 40 }, reasoning: 'Lexical overlap with the rewritten query; the 40 best go to the reranker' });
        return scored.slice(0, 40).map((s) => s.c);
      },
      { type: 'retrieval', input: { query, k: 40 } },
    );

    const reranked = await run.step(
      'rerank',
      (step) => {
        steps[step.name] = step.id;
        // A stand-in cross-encoder: rewards chunks from router documents that talk about resetting.
        const scored = retrieved
          .map((c) => ({
            c,
            score:
              Math.round(((c.doc.startsWith('router') ? 0.5 : 0) + (/factory|reset/i.test(c.text) ? 0.4 : 0) + Math.min(0.1, c.text.length / 2000)) * 1000) /
              1000,
          }))
          .sort((a, b) => b.score - a.score || (a.c.id < b.c.id ? -1 : 1));
        step.candidates(
          scored.map(({ c, score }, i): CandidateInput => ({
            key: c.id,
            decision: i < 5 ? 'accepted' : 'rejected',
            score,
            rank: i + 1,
            ...(i < 5 ? {} : { reason: c.doc.startsWith('router') ? 'ranked below the top 5' : 'about another product' }),
            evaluations: [{ check: 'same-product', passed: c.doc.startsWith('router'), detail: c.doc }],
          })),
        );
        step.complete({ output: { top: scored.slice(0, 5).map((s) => s.c.id) } });
        return scored.slice(0, 5).map((s) => s.c);
      },
      { type: 'rank', input: { model: 'demo-reranker' } },
    );

    const { answer, citations } = await run.step(
      'answer',
      async (step) => {
        steps[step.name] = step.id;
        const citations = reranked.map((c) => c.id);
        const answer =
          'Press and hold the reset button on the back panel for 10 seconds; the router restarts with factory settings. ' + `Sources: ${citations.join(', ')}`;
        await step.step(
          'check-citations',
          (check) => {
            steps[check.name] = check.id;
            const known = new Set(retrieved.map((c) => c.id));
            check.candidates(
              citations.map((id): CandidateInput => ({
                key: id,
                decision: known.has(id) ? 'accepted' : 'rejected',
                ...(known.has(id) ? {} : { reason: 'not retrieved' }),
                evaluations: [{ check: 'retrieved', passed: known.has(id) }],
              })),
            );
            check.complete({ output: { valid: citations.filter((id) => known.has(id)).length } });
          },
          { type: 'tool' },
        );
        step.llm({ usage: { input: 1180, output: 412, cacheRead: 1024 }, costUsd: 0.00042, timeToFirstTokenMs: 310 });
        step.complete({ output: { answer, citations }, reasoning: 'Answered from the top reranked chunks only' });
        return { answer, citations };
      },
      {
        type: 'llm',
        model: 'demo-llm',
        provider: 'demo',
        modelParameters: { temperature: 0.3, maxTokens: 512 },
        input: { question, context: reranked.map((c) => c.text) },
      },
    );

    await run.complete({ output: { answer, citations } });
    return { runId: run.id, answer, citations, steps };
  } catch (err) {
    await run.fail(err);
    throw err;
  }
}
