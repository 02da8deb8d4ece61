import { jest } from '@jest/globals';
import { getCandidateSummary, getLlmAnalytics, getPipelineAnalytics, getRun, listProjects, listRuns, revokeApiKey, XrayClient } from '@xray-sys/sdk';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { TestApp } from '../../api/test/harness.js';
import { PLANTED } from '../../examples/src/catalog.js';
import { startBrowserApp, type BrowserApp } from './browser-app.js';
import { axeViolations, watchedPage } from './support.js';
import { newKey, seed, XSS, type Seeded } from './seed.js';

/**
 * The dashboard in real headless Chromium against the real server (PostgreSQL when DATABASE_URL
 * is set, else the embedded database), with data sent through the SDK: the example pipelines,
 * a 2,000-step run with a 10,000-candidate step, two runs that flip a candidate, and markup in
 * reasons. Every page fails its test on a console error, a failed request or an unexpected
 * HTTP error.
 */
// Under `npm test` other suites share the 2 cores: give each browser step room.
jest.setTimeout(120_000);

describe('dashboard in the browser', () => {
  let app: BrowserApp;
  let t: TestApp;
  let origin: string;
  let xray: XrayClient;
  let adminKey: string;
  let data: Seeded;
  let browser: Browser;
  let context: BrowserContext;
  let shots: string;
  let open: BrowserApp['open'];
  let done: BrowserApp['done'];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    // The main context starts signed in (each test can run alone); signing in itself is tested in contexts of their own.
    app = await startBrowserApp({
      project: 'dashboard',
      viewport: { width: 1280, height: 720 },
      seed: async (client) => {
        data = await seed(client);
      },
    });
    ({ t, origin, xray, adminKey, browser, context, shots, open, done } = app);
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    if (Object.keys(timings).length) console.log(`dashboard timings (ms): ${JSON.stringify(timings)}`);
  });

  const signIn = async (page: Page, key: string, remember = true) => {
    await page.getByLabel('API key').fill(key);
    if (remember) await page.getByLabel('Remember on this device').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  };

  describe('static serving', () => {
    it('redirects / to /ui/ and serves the app for any /ui path, uncached, under a strict CSP', async () => {
      const root = await fetch(`${origin}/`, { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect(root.headers.get('location')).toBe('/ui/');
      for (const path of ['/ui/', '/ui/runs/some-run-id', '/ui/anything/at/all?x=1']) {
        const res = await fetch(`${origin}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/text\/html/);
        expect(res.headers.get('cache-control')).toBe('no-cache');
        const csp = res.headers.get('content-security-policy')!;
        expect(csp).toContain("script-src 'self'");
        expect(csp).toContain("style-src 'self'");
        expect(csp).not.toContain('unsafe-inline');
        const html = await res.text();
        expect(html).toContain('<div id="root">');
        expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
      }
    });

    it('caches hashed assets as immutable and answers 404 for a missing one; unknown API routes stay JSON 404', async () => {
      const html = await (await fetch(`${origin}/ui/`)).text();
      const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1];
      const res = await fetch(`${origin}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toMatch(/javascript/);
      const missing = await fetch(`${origin}/ui/assets/index-doesnotexist.js`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ statusCode: 404 });
      const api = await fetch(`${origin}/v1/no-such-route`);
      expect(api.status).toBe(404);
      expect(api.headers.get('content-type')).toMatch(/application\/json/);
      expect(await api.json()).toMatchObject({ statusCode: 404, error: expect.any(String) });
      const traversal = await fetch(`${origin}/ui/assets/..%2f..%2fpackage.json`);
      expect(traversal.status).toBeGreaterThanOrEqual(400);
    });

    it('keeps Swagger UI working at /docs', async () => {
      const w = await open('/docs');
      await w.page.locator('.swagger-ui .information-container').waitFor({ timeout: 30_000 });
      await done(w);
    });
  });

  describe('signing in', () => {
    it('refuses a wrong key without echoing it, signs in, keeps the key out of the URL, and signs out', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const w = await open('/ui/runs', ctx);
      w.allow.add(401);
      await w.page.getByLabel('API key').waitFor();
      await w.page.screenshot({ path: join(shots, 'sign-in.png') });
      expect(await axeViolations(w.page)).toEqual([]);
      const wrong = 'xr_thisisnotarealkey0000000000000000000000';
      await w.page.getByLabel('API key').fill(wrong);
      await w.page.getByRole('button', { name: 'Sign in' }).click();
      await w.page.getByText('This key is not valid').waitFor();
      expect(await w.page.content()).not.toContain(wrong.slice(3));
      await signIn(w.page, adminKey, false);
      expect(w.page.url()).toBe(`${origin}/ui/runs`);
      expect(w.page.url()).not.toContain(adminKey);
      expect(await w.page.evaluate(() => [sessionStorage.getItem('xray.apiKey'), localStorage.getItem('xray.apiKey')])).toEqual([adminKey, null]);
      await w.page.getByTestId('run-row').first().waitFor();
      await w.page.getByRole('button', { name: 'Sign out' }).click();
      await w.page.getByLabel('API key').waitFor();
      expect(await w.page.evaluate(() => [sessionStorage.getItem('xray.apiKey'), localStorage.getItem('xray.apiKey')])).toEqual([null, null]);
      await done(w);
      await ctx.close();
    });

    it('remembers the key on this device when asked, so a new tab and a deep link open signed in', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const w = await open('/ui/runs', ctx);
      await signIn(w.page, adminKey, true);
      await done(w);
      const again = await open(`/ui/runs/${data.rag.runId}`, ctx);
      await again.page.getByRole('heading', { name: /rag-answer/ }).waitFor();
      await done(again);
      await ctx.close();
    });
  });

  describe('views', () => {
    it('runs: newest first, filters in the URL survive a reload, j/k move and Enter opens', async () => {
      const w = await open('/ui/runs');
      const rows = w.page.getByTestId('run-row');
      await rows.first().waitFor();
      expect(await rows.count()).toBe(7);
      await w.page.screenshot({ path: join(shots, 'runs.png') });
      await w.page.getByLabel('Pipeline').selectOption('competitor-selection');
      await w.page.waitForURL(/pipeline=competitor-selection/);
      await expectCount(rows, 2);
      await w.page.waitForLoadState('networkidle'); // a reload would abort requests still in flight
      await w.page.reload();
      await expectCount(rows, 2);
      expect(await w.page.getByLabel('Pipeline').inputValue()).toBe('competitor-selection');
      // newest first: the second competitor run is on top
      await w.page.keyboard.press('j');
      await expectAttr(rows.nth(0), 'aria-selected', 'true');
      await w.page.keyboard.press('j');
      await expectAttr(rows.nth(1), 'aria-selected', 'true');
      await w.page.keyboard.press('k');
      await expectAttr(rows.nth(0), 'aria-selected', 'true');
      expect(w.page.url()).toContain(`sel=${data.competitor2.runId}`);
      await w.page.keyboard.press('/');
      expect(await w.page.evaluate(() => document.activeElement?.id)).toBe('runs-q');
      await w.page.keyboard.press('Escape');
      await w.page.keyboard.press('Enter');
      await w.page.waitForURL(`${origin}/ui/runs/${data.competitor2.runId}`);
      await done(w, 'runs-filtered');
    });

    it('runs: Export downloads the NDJSON export of the pipeline and time range shown', async () => {
      const w = await open('/ui/runs?pipeline=competitor-selection&range=24h');
      await expectCount(w.page.getByTestId('run-row'), 2);
      const [download] = await Promise.all([w.page.waitForEvent('download'), w.page.getByRole('button', { name: 'Export', exact: true }).click()]);
      expect(download.suggestedFilename()).toMatch(/^xray-competitor-selection-[\dT-]+\.ndjson$/);
      const lines = readFileSync((await download.path())!, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; run?: { id: string; pipeline: string } });
      const runs = lines.filter((l) => l.type === 'run').map((l) => l.run!);
      expect(runs.map((r) => r.id).sort()).toEqual([data.competitor.runId, data.competitor2.runId].sort());
      expect(runs.every((r) => r.pipeline === 'competitor-selection')).toBe(true);
      expect(lines.filter((l) => l.type === 'step').length).toBeGreaterThan(0);
      expect(lines.filter((l) => l.type === 'candidates').length).toBeGreaterThan(0);
      expect(lines[lines.length - 1]).toMatchObject({ type: 'end', runs: 2, nextCursor: null });
      await done(w, 'runs-export');
    });

    it('finds the planted phone case by clicking: runs list → run → select step → the item → the category filter that let it through', async () => {
      const w = await open('/ui/runs?pipeline=competitor-selection');
      await w.page.locator(`a[href="/ui/runs/${data.competitor.runId}"]`).click();
      await w.page.getByRole('heading', { name: /competitor-selection/ }).waitFor();
      await w.page.locator(`[data-step-id="${data.competitor.steps.select}"]`).click();
      await w.page.waitForURL(new RegExp(`step=${data.competitor.steps.select}`));
      const link = w.page.getByRole('link', { name: `Lineage of ${PLANTED.asin} across runs` });
      await link.waitFor();
      await w.page.screenshot({ path: join(shots, 'run-select-step.png') });
      await link.click();
      await w.page.waitForURL(new RegExp(`/ui/items\\?key=${PLANTED.asin}`));
      const row = w.page.getByTestId('lineage-row').filter({ hasText: 'filter-by-category' }).first();
      await row.waitFor();
      expect(await row.textContent()).toContain('title mentions "stand"');
      expect(await row.textContent()).toContain('accepted');
      await w.page.getByTestId('lineage-grid').waitFor();
      await done(w, 'item-lineage');
    });

    it('run view: the funnel shows exactly the API counts, a drop-off opens the rejected candidates, and a deep link survives a reload', async () => {
      const run = (await getRun({ client: xray.api, path: { id: data.competitor.runId } })).data!;
      const expected: [string, number, number][] = [];
      const walk = (steps: typeof run.steps) => {
        for (const s of steps) {
          if (s.candidatesIn > 0) expected.push([s.name, s.candidatesIn, s.candidatesOut]);
          walk(s.children);
        }
      };
      walk(run.steps);
      const w = await open(`/ui/runs/${data.competitor.runId}`);
      const funnel = w.page.getByTestId('funnel');
      await funnel.waitFor();
      const shown = await funnel
        .locator('.funnel-row')
        .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-step'), r.querySelector('.funnel-nums')!.textContent] as [string, string]));
      expect(shown).toEqual(expected.map(([n, i, o]) => [n, `${i.toLocaleString('en-US')} → ${o.toLocaleString('en-US')}`]));
      expect(expected.length).toBeGreaterThanOrEqual(5);
      const price = run.steps.find((s) => s.name === 'filter')!.children.find((c) => c.name === 'filter-by-price')!;
      await w.page.getByRole('button', { name: /show rejected candidates of filter-by-price$/ }).click();
      await w.page.waitForURL(new RegExp(`step=${price.id}.*decision=rejected`));
      await w.page.getByTestId('candidate-row').first().waitFor();
      const decisions = await w.page.getByTestId('candidate-row').locator('.badge').allTextContents();
      expect(new Set(decisions)).toEqual(new Set(['rejected']));
      // sampled storage is announced with the exact totals
      const notice = await w.page.getByTestId('sample-notice').textContent();
      expect(notice).toContain(`${price.candidatesStored.toLocaleString('en-US')} of ${price.candidatesIn.toLocaleString('en-US')}`);
      const summary = (await getCandidateSummary({ client: xray.api, path: { stepId: price.id } })).data!;
      const histogram = w.page.getByTestId('reason-histogram');
      await histogram.waitFor();
      expect(await histogram.locator('.hist-row button').first().textContent()).toBe(summary.reasons[0].reason);
      await w.page.screenshot({ path: join(shots, 'run.png') });
      await w.page.waitForLoadState('networkidle'); // a reload would abort requests still in flight
      await w.page.reload();
      await w.page.getByTestId('candidate-row').first().waitFor();
      expect(await w.page.getByTestId('step-panel').locator('xpath=..').locator('.pane-head b').textContent()).toBe('filter-by-price');
      // expanding a row shows its evaluations, failed checks highlighted
      await w.page
        .getByTestId('candidate-row')
        .first()
        .getByRole('button', { name: /Show details/ })
        .click();
      await w.page.locator('.cand-detail .check-failed').first().waitFor();
      await done(w, 'run-candidates');
    });

    it('run view on 2,000 steps and 10,000 candidates: opens fast, keeps the DOM small, scrolls through every candidate', async () => {
      const w = await open('/ui/runs/' + data.large.runId);
      const t0 = Date.now();
      await w.page.getByTestId('step-row').first().waitFor();
      timings.runViewInteractive = Date.now() - t0;
      // 2,000 steps: the API sends the first 1,000 and says so; the rest comes from listRunSteps on request.
      const truncated = w.page.getByTestId('steps-truncated');
      expect(await truncated.textContent()).toContain('This run has 2,000 steps; the first 1,000 are shown.');
      await truncated.getByRole('button', { name: 'Load all steps' }).click();
      await truncated.waitFor({ state: 'detached', timeout: 60_000 });
      expect(await w.page.getByText('2,000 steps ·').count()).toBe(1);
      await w.page.getByTestId('step-tree').evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await w.page.getByTestId('step-row').filter({ hasText: 'score-19-98' }).waitFor();
      expect(await w.page.getByTestId('step-row').count()).toBeLessThan(150);
      // j moves through the tree; the selection follows in the URL
      await w.page.keyboard.press('j');
      await w.page.waitForURL(/step=/);
      await w.page.getByTestId('step-panel').waitFor();
      const t1 = Date.now();
      await w.page.goto(`${origin}/ui/runs/${data.large.runId}?step=${data.large.hugeStepId}`);
      const rows = w.page.getByTestId('candidate-row');
      await rows.first().waitFor();
      timings.firstCandidateRows = Date.now() - t1;
      expect(await w.page.locator(`[data-step-id="${data.large.hugeStepId}"]`).getAttribute('aria-selected')).toBe('true');
      const t2 = Date.now();
      const box = w.page.getByTestId('candidates');
      for (let i = 0; i < 400; i++) {
        await box.evaluate((el) => el.scrollTo(0, el.scrollHeight));
        const text = await w.page
          .getByText(/loaded/)
          .last()
          .textContent();
        if (text?.startsWith('10,000 loaded.')) break;
        await w.page.waitForTimeout(50);
      }
      await w.page.getByText('10,000 loaded.').waitFor();
      await box.evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await rows
        .filter({ hasText: 'SKU00000' })
        .or(rows.filter({ hasText: 'SKU09999' }))
        .first()
        .waitFor();
      timings.scrollAllCandidates = Date.now() - t2;
      expect(await rows.count()).toBeLessThan(300);
      await done(w, 'run-large');
    });

    it('gates a 300 KB step output behind a preview with show all and download', async () => {
      const w = await open(`/ui/runs/${data.large.runId}?step=${data.large.payloadStepId}`);
      const gated = w.page.locator('[data-gated="true"]');
      await gated.waitFor();
      expect(await gated.getByRole('button', { name: 'Download' }).count()).toBe(1);
      await gated.getByRole('button', { name: 'Show all' }).click();
      await w.page.getByText('row 5999 of a large output payload').first().waitFor();
      await done(w);
    });

    it('renders markup in reasons, keys and payloads as text', async () => {
      const w = await open(`/ui/runs/${data.xss.runId}?step=${data.xss.stepId}`);
      const reason = w.page.getByTestId('candidate-reason').filter({ hasText: 'onerror' });
      await reason.waitFor();
      expect(await reason.textContent()).toBe(XSS);
      expect(await w.page.getByText('<b>bold-key</b>').count()).toBeGreaterThan(0);
      await w.page
        .getByTestId('candidate-row')
        .filter({ hasText: 'B0XSS' })
        .getByRole('button', { name: /Show details/ })
        .click();
      await w.page.locator('.cand-detail .jv-string').filter({ hasText: XSS }).waitFor();
      expect(await w.page.locator('main img').count()).toBe(0);
      expect(await w.page.locator('main b:text("bold-key")').count()).toBe(0);
      await w.page.screenshot({ path: join(shots, 'xss-as-text.png') });
      await done(w); // a fired alert() would be recorded as a dialog problem
    });

    it('compare: two runs picked in the runs list, aligned, with the flipped candidate listed and both sides linked', async () => {
      const w = await open('/ui/runs?pipeline=flip-demo');
      const rows = w.page.getByTestId('run-row');
      await expectCount(rows, 2);
      await w.page
        .getByLabel(/Select run .* to compare/)
        .nth(1)
        .check();
      await w.page
        .getByLabel(/Select run .* to compare/)
        .nth(0)
        .check();
      await w.page.getByRole('button', { name: 'Compare selected (2/2)' }).click();
      await w.page.waitForURL(new RegExp(`/ui/compare/${data.flip.left}/${data.flip.right}`));
      const flips = w.page.getByTestId('flip-row');
      await flips.first().waitFor();
      expect(await flips.allTextContents()).toEqual([expect.stringContaining('B0FLIP')]);
      expect(await flips.first().getByRole('link', { name: 'left' }).getAttribute('href')).toContain(`/ui/runs/${data.flip.left}`);
      expect(await w.page.getByTestId('compare-row').filter({ hasText: 'filter-by-stock' }).getAttribute('class')).toContain('diff-changed');
      await done(w, 'compare');
    });

    it('steps search: the "dropped more than 90%" preset finds only such filters, each linking to its run and step', async () => {
      const w = await open('/ui/steps');
      await w.page.getByRole('button', { name: 'Filters that dropped more than 90%' }).click();
      await w.page.waitForURL(/minElim=0.9/);
      const results = w.page.getByTestId('step-result');
      await results.first().waitFor();
      const cells = await results.evaluateAll((rows) => rows.map((r) => [r.children[1].textContent, r.children[8].textContent]));
      expect(cells.length).toBeGreaterThan(0);
      for (const [type, elim] of cells) {
        expect(type).toBe('filter');
        expect(parseFloat(elim!)).toBeGreaterThanOrEqual(90);
      }
      await w.page.waitForLoadState('networkidle'); // a reload would abort requests still in flight
      await w.page.reload();
      await results.first().waitFor();
      await results.first().getByRole('link').first().click();
      await w.page.waitForURL(/\/ui\/runs\/.+\?step=/);
      await w.page.getByTestId('step-panel').waitFor();
      await done(w, 'steps-search');
    });

    it('analytics: status counts equal the API, the chart draws, step and reason tables fill', async () => {
      const api = (
        await getPipelineAnalytics({
          client: xray.api,
          path: { pipeline: 'competitor-selection' },
          query: { from: new Date(Date.now() - 7 * 86_400_000).toISOString() },
        })
      ).data!;
      const w = await open('/ui/analytics/competitor-selection');
      const cards = w.page.getByTestId('analytics-cards');
      await cards.waitFor();
      expect(await cards.locator('.card').first().locator('b').textContent()).toBe(String(api.runs.total));
      await w.page.getByTestId('runs-chart').locator('canvas').first().waitFor();
      expect(await w.page.getByTestId('step-stats').locator('tbody tr').count()).toBe(api.steps.length);
      await done(w, 'analytics');
    });

    it('LLM steps: model, tokens and cost on the step, the run header, the runs list (sorted by cost) and analytics', async () => {
      const run = (await getRun({ client: xray.api, path: { id: data.rag.runId } })).data!;
      const answer = run.steps.find((s) => s.name === 'answer')!;
      const w = await open(`/ui/runs/${data.rag.runId}?step=${answer.id}`);
      await w.page.getByTestId('step-llm').waitFor();
      expect(await w.page.getByTestId('step-model').textContent()).toBe(`${answer.model} (${answer.provider})`);
      expect(await w.page.getByTestId('step-tokens').textContent()).toBe('1,180 in · 412 out (1,024 cached)');
      expect(await w.page.getByTestId('step-cost').textContent()).toBe('$0.00042 (sent)');
      expect(await w.page.getByTestId('run-header-tokens').textContent()).toBe(`${run.totalTokens.toLocaleString('en-US')} (1,228 in · 428 out)`);
      expect(await w.page.getByTestId('run-header-cost').textContent()).toBe('$0.00043');
      await done(w, 'llm-step');

      // The runs list ordered by cost: the API's order, with the costs shown.
      const api = (await listRuns({ client: xray.api, query: { sort: '-costUsd', limit: 50 } })).data!;
      const list = await open('/ui/runs?sort=-costUsd');
      await list.page.getByTestId('run-row').first().waitFor();
      const ids = await list.page.getByTestId('run-row').evaluateAll((rows) => rows.map((r) => r.id.replace(/^run-/, '')));
      expect(ids).toEqual(api.items.map((r) => r.id));
      expect(await list.page.locator(`#run-${data.rag.runId} [data-testid="run-cost"]`).textContent()).toBe('$0.00043');
      await done(list);

      const llm = (await getLlmAnalytics({ client: xray.api, query: { pipeline: 'rag-answer', from: new Date(Date.now() - 7 * 86_400_000).toISOString() } }))
        .data!;
      const a = await open('/ui/analytics/rag-answer');
      await a.page.getByTestId('llm-cards').waitFor();
      expect(await a.page.getByTestId('llm-models').locator('tbody tr').count()).toBe(llm.byModel.length);
      expect(await a.page.getByTestId('llm-models').locator('tbody tr td:first-child').allTextContents()).toEqual(llm.byModel.map((m) => m.model));
      expect(await a.page.getByTestId('llm-steps').locator('tbody tr').count()).toBe(llm.byStep.length);
      await a.page.getByTestId('llm-cost-chart').locator('canvas').first().waitFor();
      await done(a, 'llm-analytics');
    });

    it('keys: creates a key (secret shown once) and revokes it', async () => {
      const w = await open('/ui/settings/keys');
      await w.page.getByTestId('key-row').first().waitFor();
      await w.page.getByLabel('Name').fill('browser-test key');
      await w.page.getByRole('button', { name: 'Create key' }).click();
      const secret = await w.page.getByTestId('new-secret').locator('code').textContent();
      expect(secret).toMatch(/^xr_/);
      const row = w.page.getByTestId('key-row').filter({ hasText: 'browser-test key' });
      await row.waitFor();
      w.page.removeAllListeners('dialog');
      w.page.once('dialog', (d) => void d.accept());
      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.getByText(/revoked/).waitFor();
      await done(w, 'keys');
    });

    it('project: shows the retention; an admin key sets it (refusing a bad number) and goes back to the server default', async () => {
      const w = await open('/ui/settings/project');
      const retention = w.page.getByTestId('retention');
      await retention.getByText('Server default').waitFor();
      const days = w.page.getByLabel('Keep runs for (days)');
      await days.fill('0');
      await w.page.getByRole('button', { name: 'Save' }).click();
      await w.page.getByText('Enter from 1 to 36500 days.').waitFor();
      await days.fill('45');
      await w.page.getByRole('button', { name: 'Save' }).click();
      await retention.getByText('45 days').waitFor();
      expect((await listProjects({ client: xray.api })).data?.items[0].retentionDays).toBe(45);
      await w.page.getByRole('button', { name: 'Use the server default' }).click();
      await retention.getByText('Server default').waitFor();
      expect((await listProjects({ client: xray.api })).data?.items[0].retentionDays).toBeNull();
      await done(w, 'project');
    });

    it('run view: "Delete run" asks first; cancelling keeps the run, confirming deletes it and goes back to the runs list', async () => {
      const run = await xray.startRun({ pipeline: 'doomed', input: { n: 1 } });
      run.startStep('only').complete({ output: { ok: true } });
      await run.complete({ output: { done: true } });
      expect(await xray.flush({ timeoutMs: 10_000 })).toBe(true);
      const w = await open(`/ui/runs/${run.id}`);
      const dialog = w.page.getByRole('dialog', { name: 'Delete this run?' });
      await w.page.getByRole('button', { name: 'Delete run' }).click();
      await dialog.getByText('its 1 step and their candidates').waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect((await getRun({ client: xray.api, path: { id: run.id } })).response.status).toBe(200);
      await w.page.getByRole('button', { name: 'Delete run' }).click();
      await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
      await w.page.waitForURL(`${origin}/ui/runs?pipeline=doomed`);
      await w.page.getByText('No runs match these filters.').waitFor();
      expect((await getRun({ client: xray.api, path: { id: run.id } })).response.status).toBe(404);
      await done(w, 'run-deleted');
    });

    it('runs live mode polls while a run is running and shows it finish without a reload', async () => {
      const run = await xray.startRun({ pipeline: 'live-demo', input: { n: 1 } });
      expect(await xray.flush({ timeoutMs: 10_000 })).toBe(true);
      const w = await open('/ui/runs?pipeline=live-demo&live=1');
      const row = w.page.getByTestId('run-row').first();
      await row.getByText('running').waitFor();
      expect(await w.page.getByRole('checkbox', { name: 'Live' }).isChecked()).toBe(true);
      await run.complete({ output: { done: true } });
      expect(await xray.flush({ timeoutMs: 10_000 })).toBe(true);
      await row.getByText('success').waitFor({ timeout: 20_000 });
      await done(w);
    });

    it('dark mode: the toggle switches the theme and keeps it', async () => {
      const w = await open(`/ui/runs/${data.competitor.runId}?step=${data.competitor.steps['filter-by-category'] ?? ''}`);
      await w.page.getByTestId('candidate-row').first().waitFor();
      await w.page.getByRole('button', { name: 'Switch to dark mode' }).click();
      expect(await w.page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      // Let the step panel's requests finish: a reload would abort them, a failure the watcher reports.
      await w.page.waitForLoadState('networkidle');
      await w.page.reload();
      expect(await w.page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      await w.page.getByTestId('funnel').waitFor();
      await w.page.getByTestId('candidate-row').first().waitFor();
      await w.page.screenshot({ path: join(shots, 'run-dark.png') });
      await w.page.getByRole('button', { name: 'Switch to light mode' }).click();
      await done(w, 'run-light-again');
    });
  });

  describe('errors', () => {
    it('a revoked key returns to sign-in and says why (401)', async () => {
      const k = await newKey(xray, 'to revoke', ['read']);
      const ctx = await browser.newContext();
      const w = await open('/ui/runs', ctx);
      w.allow.add(401);
      await signIn(w.page, k.key, false);
      await w.page.getByTestId('run-row').first().waitFor();
      await revokeApiKey({ client: xray.api, path: { id: k.id } });
      await w.page.getByLabel('Pipeline').selectOption('rag-answer');
      await w.page.getByText(/You were signed out/).waitFor();
      expect(await w.page.getByLabel('API key').isVisible()).toBe(true);
      await done(w);
      await ctx.close();
    });

    it('a key without the read scope is told which scope is missing (403), and a read key sees no Keys view', async () => {
      const ingest = await newKey(xray, 'ingest only', ['ingest']);
      const ctx = await browser.newContext();
      const w = await open('/ui/runs', ctx);
      w.allow.add(403);
      await signIn(w.page, ingest.key, false);
      await w.page.getByText(/need the read scope/).waitFor();
      await w.page.getByRole('button', { name: 'Sign out' }).click();
      const read = await newKey(xray, 'read only', ['read']);
      await signIn(w.page, read.key, false);
      await w.page.getByTestId('run-row').first().waitFor();
      expect(await w.page.getByRole('link', { name: 'Keys' }).count()).toBe(0);
      await w.page.goto(`${origin}/ui/settings/keys`);
      await w.page.getByText('Not allowed: This API key lacks the "admin" scope this route needs').waitFor();
      await done(w);
      await ctx.close();
    });

    it('503 and 429 show a banner and retry by themselves after Retry-After', async () => {
      for (const status of [503, 429]) {
        const w = await watchedPage(context, origin);
        w.allow.add(status);
        let refused = 0;
        await w.page.route(/\/v1\/runs\?/, async (route) => {
          if (refused++ === 0) {
            await route.fulfill({
              status,
              headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
              body: JSON.stringify({ statusCode: status, error: status === 503 ? 'DATABASE_UNAVAILABLE' : 'RATE_LIMITED', message: 'try again shortly' }),
            });
          } else await route.fallback();
        });
        await w.page.goto(`${origin}/ui/runs`);
        await w.page
          .getByTestId('outage-banner')
          .waitFor()
          .catch(async (e) => {
            console.log(status, refused, w.problems, await w.page.content());
            throw e;
          });
        await w.page.getByTestId('run-row').first().waitFor({ timeout: 15_000 });
        await w.page.getByTestId('outage-banner').waitFor({ state: 'detached' });
        expect(refused).toBeGreaterThanOrEqual(2);
        await done(w);
      }
    });

    it('an empty project shows how to send a first run to this server', async () => {
      const empty = await t.newProject('empty');
      const ctx = await browser.newContext();
      const w = await open('/ui/runs', ctx);
      await signIn(w.page, empty.key, false);
      await w.page.getByRole('heading', { name: 'No runs yet' }).waitFor();
      expect(await w.page.locator('.empty pre').first().textContent()).toContain(`baseUrl: '${origin}'`);
      await done(w, 'empty-project');
      await ctx.close();
    });
  });
});

async function expectCount(locator: ReturnType<Page['locator']>, n: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await locator.count()) === n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await locator.count()).toBe(n);
}

async function expectAttr(locator: ReturnType<Page['locator']>, name: string, value: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await locator.getAttribute(name)) === value) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await locator.getAttribute(name)).toBe(value);
}
