import { XrayClient, type XrayClientOptions } from '@xray-sys/sdk';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, ViewportSize } from 'playwright-core';
import { createTestApp, type TestApp } from '../../api/test/harness.js';
import { axeViolations, ensureBuilt, launch, screenshotDir, watchedPage, type Watched } from './support.js';

/** The server on a loopback port, a project and its admin key, data sent by the SDK, and Chromium signed in with that key. */
export interface BrowserApp {
  t: TestApp;
  origin: string;
  adminKey: string;
  /** The SDK client the data was sent with (admin key). */
  xray: XrayClient;
  browser: Browser;
  /** A browser context that starts signed in with the admin key. */
  context: BrowserContext;
  /** Where screenshots go. */
  shots: string;
  /** A watched page (in the signed-in context unless told) opened at `path`. */
  open(path: string, ctx?: BrowserContext): Promise<Watched>;
  /** Closes the page, after a screenshot and an axe check when named; fails on any problem it saw or violation axe found. */
  done(w: Watched, name?: string): Promise<void>;
  /** Closes the browser, the client and the server. */
  close(): Promise<void>;
}

/**
 * For a suite's beforeAll: builds the dashboard if it is missing, starts the server with a
 * project named `project`, runs `seed` with an SDK client (admin key, `client` options), then
 * launches Chromium with a signed-in context of `viewport`. What it started is closed again if
 * a step fails.
 */
export async function startBrowserApp(options: {
  project: string;
  viewport: ViewportSize;
  client?: Partial<XrayClientOptions>;
  seed(xray: XrayClient): Promise<void>;
}): Promise<BrowserApp> {
  ensureBuilt();
  const started: Partial<BrowserApp> = {};
  const close = async () => {
    await started.browser?.close();
    await started.xray?.shutdown({ timeoutMs: 1000 });
    await started.t?.close();
  };
  try {
    const t = (started.t = await createTestApp());
    await t.app.listen(0, '127.0.0.1');
    const origin = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const adminKey = (await t.newProject(options.project)).key;
    const xray = (started.xray = new XrayClient({ baseUrl: origin, apiKey: adminKey, exitFlushTimeoutMs: 0, ...options.client }));
    await options.seed(xray);
    const browser = (started.browser = await launch());
    const context = await browser.newContext({ viewport: options.viewport });
    await context.addInitScript({ content: `localStorage.setItem('xray.apiKey', ${JSON.stringify(adminKey)})` });
    const shots = screenshotDir();
    const open = async (path: string, ctx = context): Promise<Watched> => {
      const w = await watchedPage(ctx, origin);
      w.page.setDefaultTimeout(45_000);
      await w.page.goto(`${origin}${path}`);
      return w;
    };
    const done = async (w: Watched, name?: string) => {
      if (name) await w.page.screenshot({ path: join(shots, `${name}.png`) });
      const violations = name ? await axeViolations(w.page) : [];
      await w.page.close();
      expect(w.problems).toEqual([]);
      expect(violations).toEqual([]);
    };
    return { t, origin, adminKey, xray, browser, context, shots, open, done, close };
  } catch (err) {
    await close();
    throw err;
  }
}
