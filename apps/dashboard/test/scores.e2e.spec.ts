import { jest } from '@jest/globals';
import { createApiKey, getKeyInfo, listScores, XrayClient } from '@xray-sys/sdk';
import type { Browser } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from './browser-app.js';

/**
 * Scores in the dashboard, in real Chromium against the real server (PostgreSQL with
 * DATABASE_URL, else embedded): scores recorded by the SDK are shown on the run, its steps and
 * candidates, and a signed-in user adds scores and comments with clicks, then sees them.
 */
jest.setTimeout(120_000);

describe('dashboard: scores', () => {
  let app: BrowserApp;
  let xray: XrayClient;
  let readKey: string;
  let keyName: string;
  let runId: string;
  let otherRunId: string;
  let selectId: string;
  let browser: Browser;
  let open: BrowserApp['open'];
  let done: BrowserApp['done'];

  beforeAll(async () => {
    app = await startBrowserApp({ project: 'scores-ui', viewport: { width: 1400, height: 800 }, client: { flushIntervalMs: 20 }, seed: seedScores });
    ({ browser, open, done } = app);
  }, 300_000);

  afterAll(() => app?.close());

  /** Two runs of one pipeline with scores from evaluators, on the run, a step and a candidate; and a read-only key. */
  async function seedScores(client: XrayClient) {
    xray = client;
    keyName = (await getKeyInfo({ client: xray.api, throwOnError: true })).data.keyName!;
    readKey = (await createApiKey({ client: xray.api, body: { name: 'reader', scopes: ['read'] }, throwOnError: true })).data.key;
    const run = await xray.startRun({
      pipeline: 'scored-selection',
      input: { title: 'laptop stand' },
      evaluators: [{ name: 'title-check', evaluate: () => ({ name: 'on-topic', value: 0.25, comment: 'a phone case' }) }],
    });
    runId = run.id;
    await run.step(
      'select',
      (step) => {
        selectId = step.id;
        step.candidates([
          { key: 'B0CASE', decision: 'selected', reason: 'top score' },
          { key: 'B0STAND', decision: 'rejected', reason: 'lower score' },
        ]);
        step.score('confidence', 0.4);
        step.scoreCandidate('B0STAND', 'relevant', true);
      },
      { type: 'rank' },
    );
    run.score('run-verdict', 'bad');
    await run.complete({ output: { selected: 'B0CASE' } });
    const other = await xray.startRun({ pipeline: 'scored-selection', evaluators: [() => ({ name: 'on-topic', value: 0.75 })] });
    otherRunId = other.id;
    other.score('run-verdict', 'good');
    await other.complete();
    if (!(await xray.flush({ timeoutMs: 60_000 })) || xray.stats().rejected) throw new Error(`seeding failed: ${JSON.stringify(xray.stats())}`);
  }

  const scoresOf = async (query: { runId: string; name?: string }) => (await listScores({ client: xray.api, query, throwOnError: true })).data.items;

  it('shows the SDK’s scores on the run, the step row, the step panel and the candidate', async () => {
    const w = await open(`/ui/runs/${runId}?step=${selectId}`);
    const header = w.page.getByTestId('run-scores');
    await header.getByText('on-topic: 0.25').waitFor();
    expect(await header.textContent()).toContain('2 on its steps and candidates');
    await w.page
      .locator(`[data-step-id="${selectId}"]`)
      .getByTitle(/^confidence: 0\.4 · sdk/)
      .waitFor();
    const panel = w.page.getByTestId('step-scores');
    await panel.getByRole('cell', { name: 'confidence' }).waitFor();
    expect(await panel.getByTestId('score-row').count()).toBe(1);
    const stand = w.page.getByTestId('candidate-row').filter({ hasText: 'B0STAND' });
    await stand.getByText('relevant: ✓ true').waitFor();
    expect(await w.page.getByTestId('candidate-row').filter({ hasText: 'B0CASE' }).getByTestId('score-badges').count()).toBe(0);
    await done(w, 'scores-run');
  });

  it('adds a score to the run, a score to a candidate and a comment to a step with clicks, as the signed-in key', async () => {
    const w = await open(`/ui/runs/${runId}?step=${selectId}`);
    // The run: correct = false, with a comment.
    await w.page.getByRole('button', { name: 'Add a score to this run' }).click();
    const runForm = w.page.getByRole('form', { name: 'Add a score to this run' });
    await runForm.getByLabel('Score name').fill('correct');
    await runForm.getByLabel('Value').selectOption('false');
    await runForm.getByLabel('Comment').fill('The phone case is not a competitor.');
    await runForm.getByRole('button', { name: 'Save' }).click();
    await w.page.getByTestId('run-scores').getByText('correct: ✗ false').waitFor();
    const [runScore] = await scoresOf({ runId, name: 'correct' });
    expect(runScore).toMatchObject({ target: 'run', value: false, source: 'human', author: keyName, comment: 'The phone case is not a competitor.' });

    // The phone case: open its details, score it with a label.
    const caseRow = w.page.getByTestId('candidate-row').filter({ hasText: 'B0CASE' });
    await caseRow.getByRole('button', { name: 'Show details of B0CASE' }).click();
    await w.page.getByRole('button', { name: 'Add a score to candidate B0CASE' }).click();
    const candForm = w.page.getByRole('form', { name: 'Add a score to candidate B0CASE' });
    await candForm.getByLabel('Score name').fill('verdict');
    await candForm.getByLabel('Kind').selectOption('label');
    await candForm.getByLabel('Value').fill('wrong-category');
    await candForm.getByRole('button', { name: 'Save' }).click();
    await caseRow.getByTestId('candidate-scores').getByText('verdict: wrong-category').waitFor();
    expect(await scoresOf({ runId, name: 'verdict' })).toMatchObject([
      { target: 'candidate', stepId: selectId, key: 'B0CASE', value: 'wrong-category', source: 'human' },
    ]);

    // The step: a comment alone, and a bad number refused in the form before any request.
    await w.page.getByRole('button', { name: 'Add a score to step select' }).click();
    const stepForm = w.page.getByRole('form', { name: 'Add a score to step select' });
    await stepForm.getByLabel('Score name').fill('latency-ok');
    await stepForm.getByLabel('Kind').selectOption('number');
    await stepForm.getByLabel('Value').fill('fast');
    await stepForm.getByRole('button', { name: 'Save' }).click();
    await stepForm.getByRole('alert').getByText('Enter a number').waitFor();
    await stepForm.getByRole('button', { name: 'Cancel' }).click();
    await w.page.getByRole('button', { name: 'Comment on step select' }).click();
    const comment = w.page.getByRole('form', { name: 'Comment on step select' });
    await comment.getByLabel('Comment').fill('Ranking ignores the category.');
    await comment.getByRole('button', { name: 'Save' }).click();
    await w.page.getByTestId('step-scores').getByRole('cell', { name: 'Ranking ignores the category.' }).waitFor();
    expect(await scoresOf({ runId, name: 'comment' })).toMatchObject([
      { target: 'step', stepId: selectId, value: 'note', comment: 'Ranking ignores the category.', source: 'human', author: keyName },
    ]);
    expect(await scoresOf({ runId, name: 'latency-ok' })).toEqual([]);

    // After a reload everything is still there.
    await w.page.reload();
    await w.page.getByTestId('run-scores').getByText('correct: ✗ false').waitFor();
    await w.page.getByTestId('candidate-row').filter({ hasText: 'B0CASE' }).getByText('verdict: wrong-category').waitFor();
    await done(w, 'scores-added');
  });

  it('filters runs by score from the form, with that score as a column', async () => {
    const w = await open('/ui/runs?pipeline=scored-selection');
    await w.page.getByTestId('run-row').nth(1).waitFor();
    expect(await w.page.getByTestId('run-row').count()).toBe(2);
    await w.page.getByLabel('Score', { exact: true }).fill('run-verdict=bad');
    await w.page.getByRole('button', { name: 'Apply' }).click();
    await w.page.waitForURL(/score=run-verdict%3Dbad|score=run-verdict=bad/);
    await w.page.locator(`a[href="/ui/runs/${runId}"]`).waitFor();
    await w.page.getByRole('columnheader', { name: 'Score: run-verdict' }).waitFor();
    expect(await w.page.getByTestId('run-row').count()).toBe(1);
    await w.page.getByTestId('run-score-cell').getByText('run-verdict: bad').waitFor();
    // A numeric condition: the other run only.
    await w.page.getByLabel('Score', { exact: true }).fill('on-topic>=0.5');
    await w.page.getByRole('button', { name: 'Apply' }).click();
    await w.page.locator(`a[href="/ui/runs/${otherRunId}"]`).waitFor();
    expect(await w.page.getByTestId('run-row').count()).toBe(1);
    // A filter the form cannot read is said, not sent.
    await w.page.getByLabel('Score', { exact: true }).fill('on-topic>high');
    await w.page.getByRole('alert').getByText('> compares with a number').waitFor();
    await done(w, 'scores-runs-filter');
  });

  it('charts each score over time in analytics: the mean of numbers, label counts of labels', async () => {
    const w = await open('/ui/analytics/scored-selection');
    const section = w.page.getByTestId('score-series');
    await section.waitFor();
    const onTopic = section.locator('[data-score-name="on-topic"]');
    await onTopic.getByText(/numeric · 2 scores · mean 0\.500/).waitFor();
    await onTopic.getByTestId('score-chart').locator('canvas').waitFor();
    const verdict = section.locator('[data-score-name="run-verdict"]');
    await verdict.getByText(/categorical · 2 scores/).waitFor();
    expect(await verdict.getByTestId('score-chart').getAttribute('aria-label')).toBe('Score run-verdict: bad 1, good 1');
    await done(w, 'scores-analytics');
  });

  it('offers no score form to a key that may only read', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 800 } });
    await ctx.addInitScript({ content: `localStorage.setItem('xray.apiKey', ${JSON.stringify(readKey)})` });
    const w = await open(`/ui/runs/${runId}?step=${selectId}`, ctx);
    await w.page.getByTestId('run-scores').getByText('on-topic: 0.25').waitFor();
    await w.page.getByTestId('step-scores').waitFor();
    expect(await w.page.getByRole('button', { name: /Add a score|Comment on/ }).count()).toBe(0);
    await done(w);
    await ctx.close();
  });
});
