/**
 * The dashboard on a large run, in headless Chromium (/usr/bin/chromium through playwright-core)
 * against the built API (production mode) on a fresh PostgreSQL database:
 * - bytes of JavaScript and CSS the first view (/ui/runs) loads, gzipped (target ≤ 300 kB);
 * - navigation → run view interactive (step rows drawn) on a 2,000-step run (target < 1.5 s);
 * - selecting the 10,000-candidate step → first candidate rows (target < 1 s);
 * - scrolling through all 10,000 candidates (pages load as the list scrolls).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { XrayClient } from '../libs/sdk/src/client.js';
import { startApi } from './lib/api.js';
import { createDatabase } from './lib/database.js';
import { type BenchContext, range } from './lib/report.js';
import { summarize } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist', 'dashboard');
const CHROMIUM = process.env.XRAY_CHROMIUM ?? '/usr/bin/chromium';

export interface DashboardFigures {
  firstViewGzipBytes: number;
  runViewInteractiveMs: number[];
  firstCandidateRowsMs: number[];
  scrollAllCandidatesMs: number[];
}

async function seedLargeRun(baseUrl: string, apiKey: string): Promise<{ runId: string; hugeStepId: string; hugeIndex: number }> {
  const xray = new XrayClient({ baseUrl, apiKey, exitFlushTimeoutMs: 0 });
  const run = await xray.startRun({ pipeline: 'bulk-scoring', input: { batch: 'large' } });
  let hugeStepId = '';
  let hugeIndex = -1;
  let row = 0;
  for (let stage = 0; stage < 20; stage++) {
    const parent = run.startStep(`stage-${stage}`, { type: 'custom' });
    row++;
    for (let i = 0; i < 99; i++) {
      const child = parent.startStep(`score-${stage}-${i}`, { type: 'filter', input: { shard: i } });
      if (stage === 3 && i === 0) {
        hugeStepId = child.id;
        hugeIndex = row;
        child.candidates(
          Array.from({ length: 10_000 }, (_, n) => ({
            key: `SKU${String(n).padStart(5, '0')}`,
            decision: n % 4 === 0 ? ('accepted' as const) : ('rejected' as const),
            score: (n % 1000) / 1000,
            reason: n % 4 === 0 ? undefined : ['score below threshold', 'duplicate listing', 'missing price'][n % 3],
            evaluations: [{ check: 'threshold', passed: n % 4 === 0, detail: `score ${n % 100}` }],
            data: { title: `Item ${n}`, price: n % 90 },
          })),
          { capture: 'all' },
        );
      }
      child.complete({ output: { ok: true } });
      row++;
    }
    parent.complete();
  }
  await run.complete({ output: { scored: 10_000 } });
  await xray.shutdown({ timeoutMs: 120_000 });
  if (xray.stats().rejected || xray.stats().dropped || xray.stats().unsent) throw new Error(`seeding lost events: ${JSON.stringify(xray.stats())}`);
  return { runId: run.id, hugeStepId, hugeIndex };
}

export async function benchDashboard(ctx: BenchContext): Promise<DashboardFigures | undefined> {
  const { log } = ctx;
  if (ctx.smoke) {
    log('skipped in the smoke run: the browser tests in npm test drive the same views');
    return undefined;
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  if (!existsSync(join(DIST, 'index.html'))) execFileSync('npm', ['run', 'build:ui', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const rounds = ctx.rounds ?? 5;
  const db = await createDatabase(ctx.adminUrl, 'dashboard');
  const api = await startApi({ databaseUrl: db.url, mode: ctx.mode });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    const key = await api.newProject('dashboard-bench');
    const t = Date.now();
    const large = await seedLargeRun(api.baseUrl, key);
    log(`seeded a run with 2,000 steps and a 10,000-candidate step in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const newPage = async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      await context.addInitScript({ content: `localStorage.setItem('xray.apiKey', ${JSON.stringify(key)})` });
      const page = await context.newPage();
      return { context, page };
    };

    // 1. What the first view loads.
    let firstViewGzipBytes = 0;
    {
      const { context, page } = await newPage();
      const bodies: Promise<void>[] = [];
      page.on('response', (res) => {
        const type = res.request().resourceType();
        if (type === 'script' || type === 'stylesheet') bodies.push(res.body().then((b) => void (firstViewGzipBytes += gzipSync(b, { level: 9 }).length)));
      });
      await page.goto(`${api.baseUrl}/ui/runs`, { waitUntil: 'networkidle' });
      await page.getByTestId('run-row').first().waitFor();
      await Promise.all(bodies);
      await context.close();
    }

    const runViewInteractiveMs: number[] = [];
    const firstCandidateRowsMs: number[] = [];
    const scrollAllCandidatesMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const { context, page } = await newPage();
      // Load the app shell first (as a user arriving from the runs list), then open the run.
      await page.goto(`${api.baseUrl}/ui/runs`);
      await page.getByTestId('run-row').first().waitFor();
      let t0 = Date.now();
      await page.locator(`a[href="/ui/runs/${large.runId}"]`).click();
      await page.getByTestId('step-row').first().waitFor();
      runViewInteractiveMs.push(Date.now() - t0);

      await page.getByTestId('step-tree').evaluate((el, top) => el.scrollTo(0, top), large.hugeIndex * 28 - 100);
      const row = page.locator(`[data-step-id="${large.hugeStepId}"]`);
      await row.waitFor();
      t0 = Date.now();
      await row.click();
      await page.getByTestId('candidate-row').first().waitFor();
      firstCandidateRowsMs.push(Date.now() - t0);

      t0 = Date.now();
      const box = page.getByTestId('candidates');
      for (;;) {
        await box.evaluate((el) => el.scrollTo(0, el.scrollHeight));
        if ((await page.getByText('10,000 loaded.').count()) > 0) break;
        if (Date.now() - t0 > 120_000) throw new Error('scrolling through 10,000 candidates took over 2 minutes');
        await page.waitForTimeout(16);
      }
      await box.evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await page
        .getByTestId('candidate-row')
        .filter({ hasText: /SKU0999\d|SKU0000\d/ })
        .first()
        .waitFor();
      scrollAllCandidatesMs.push(Date.now() - t0);
      const domRows = await page.getByTestId('candidate-row').count();
      if (r === 0) log(`candidate rows in the DOM after the scroll: ${domRows}`);
      await context.close();
    }

    const med = (v: number[]) => summarize(v).median;
    log(
      `first view (/ui/runs) JS + CSS, gzipped: ${(firstViewGzipBytes / 1024).toFixed(1)} kB (target ≤ 300 kB) ${firstViewGzipBytes <= 300 * 1024 ? 'met' : 'NOT met'}`,
    );
    log(
      `run view interactive, 2,000 steps:      ${range(runViewInteractiveMs)} ms (target < 1,500 ms) ${med(runViewInteractiveMs) < 1500 ? 'met' : 'NOT met'}`,
    );
    log(
      `first candidate rows after selecting:   ${range(firstCandidateRowsMs)} ms (target < 1,000 ms) ${med(firstCandidateRowsMs) < 1000 ? 'met' : 'NOT met'}`,
    );
    log(`scroll through 10,000 candidates:       ${range(scrollAllCandidatesMs)} ms`);
    log(`(median (min–max) of ${rounds} rounds, viewport 1280×720, API on PostgreSQL in ${ctx.mode} mode)`);
    return { firstViewGzipBytes, runViewInteractiveMs, firstCandidateRowsMs, scrollAllCandidatesMs };
  } finally {
    await browser.close();
    await api.stop();
    await db.drop();
  }
}
