import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium; a browser download is impossible on the machines tests run on. */
export const CHROMIUM_PATH = process.env.XRAY_CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags that keep Chromium from reaching for the network or a sandbox the test machine lacks. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A page that records every problem a user would not see but a test must: uncaught page
 * errors, console errors, and requests that failed or left loopback (those are aborted).
 */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

export async function watchedPage(browser: Browser, options: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1' || host === 'localhost') return route.continue();
    problems.push(`request left loopback: ${route.request().url()}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`));
  return { context, page, problems };
}

/** Screenshots go to a git-ignored folder, one per name. */
export function screenshotPath(folder: string, name: string): string {
  const dir = join(process.cwd(), 'screenshots', folder);
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name.replace(/[^a-zA-Z0-9_-]+/g, '_')}.png`);
}
