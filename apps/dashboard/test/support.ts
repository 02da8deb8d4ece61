import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const ROOT = resolve(process.cwd());
export const DIST = join(ROOT, 'dist', 'dashboard');
export const CHROMIUM = process.env.XRAY_CHROMIUM ?? '/usr/bin/chromium';

/** `npm test` builds the dashboard first; a test file run alone builds it when it is missing. */
export function ensureBuilt(): void {
  if (existsSync(join(DIST, 'index.html'))) return;
  execFileSync('npm', ['run', 'build:ui', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
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
}

export interface Watched {
  page: Page;
  /** Console errors, page errors, failed requests and unexpected HTTP errors seen so far. */
  problems: string[];
  /** HTTP statuses (>= 400) this page may see without it counting as a problem, e.g. [401] in the 401 test. */
  allow: Set<number>;
}

/**
 * A page that records every console error, uncaught error, failed request and HTTP error
 * answer (other than the statuses a test expects); tests assert the list stays empty.
 * Requests anywhere but the test server are aborted (and count as problems).
 */
export async function watchedPage(context: BrowserContext, origin: string): Promise<Watched> {
  const page = await context.newPage();
  const w: Watched = { page, problems: [], allow: new Set() };
  await page.route('**/*', (route) =>
    route.request().url().startsWith(origin) || route.request().url().startsWith('blob:') ? route.fallback() : route.abort(),
  );
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Chromium logs every HTTP error answer as "Failed to load resource"; those are judged by status below.
    const m = /status of (\d{3})/.exec(text);
    if (m && w.allow.has(Number(m[1]))) return;
    w.problems.push(`console: ${text}`);
  });
  page.on('pageerror', (err) => w.problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => w.problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400 && !w.allow.has(res.status())) w.problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  page.on('dialog', (d) => {
    w.problems.push(`dialog: ${d.type()} ${d.message()}`);
    void d.dismiss();
  });
  return w;
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

/** axe-core against the page; returns the serious and critical violations. Evaluated over CDP, so the page's CSP stays as it is. */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.nodes
          .slice(0, 3)
          .map((n) => JSON.stringify(n.target))
          .join(', ')})`,
    );
}

export function screenshotDir(): string {
  const dir = join(ROOT, 'apps', 'dashboard', 'test', 'screenshots', process.env.DATABASE_URL ? 'postgres' : 'embedded');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export { dirname };
