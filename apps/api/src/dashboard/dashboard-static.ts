import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorBody } from '../common/error-body.js';

/** Where the dashboard is served; the Vite build uses the same base (apps/dashboard/vite.config.ts). */
export const DASHBOARD_BASE = '/ui';

/**
 * The dashboard's own policy, stricter than the API's (which lets Swagger UI use inline styles):
 * only files from this origin, no inline script or style elements, no plugins, no framing by others.
 * React and uPlot set styles through the CSSOM, which `style-src 'self'` allows.
 */
const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/**
 * The built dashboard (`npm run build:ui` → dist/dashboard). Found from this file's location, so
 * it works from the compiled server (dist/apps/api/src/dashboard) and from source (tests), in
 * whatever directory the process was started.
 */
export function findDashboardDir(): string {
  if (process.env.XRAY_DASHBOARD_DIR) return process.env.XRAY_DASHBOARD_DIR;
  let dir = dirname(fileURLToPath(import.meta.url));
  const root = parse(dir).root;
  while (dir !== root) {
    const inDist = parse(dir).base === 'dist' ? join(dir, 'dashboard') : join(dir, 'dist', 'dashboard');
    if (existsSync(join(inDist, 'index.html'))) return inDist;
    dir = dirname(dir);
  }
  return join(process.cwd(), 'dist', 'dashboard');
}

/**
 * Serves the dashboard at /ui/ and redirects `/` there:
 * - hashed files under /ui/assets/ are immutable (a year), and a missing one answers 404;
 * - any other /ui/… path is a view of the single-page app: index.html, never cached, so a
 *   deep link or a reload opens the right view and a new build is picked up at once;
 * - everything else (/v1/…, /docs, /health) is left to the API, whose unknown routes answer the JSON 404.
 */
export function dashboardStatic(dir = findDashboardDir()) {
  const files = express.static(dir, {
    index: false,
    fallthrough: true,
    redirect: false,
    setHeaders: (res, path) => {
      res.setHeader('Cache-Control', path.includes(`${join(dir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const indexFile = join(dir, 'index.html');

  return (req: Request, res: Response, next: NextFunction) => {
    const path = req.path;
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return res.redirect(302, `${DASHBOARD_BASE}/`);
    if (path !== DASHBOARD_BASE && !path.startsWith(`${DASHBOARD_BASE}/`)) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (path === DASHBOARD_BASE) return res.redirect(301, `${DASHBOARD_BASE}/`);
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    const sub = path.slice(DASHBOARD_BASE.length);
    const original = req.url;
    req.url = req.url.slice(DASHBOARD_BASE.length) || '/';
    files(req, res, (err?: unknown) => {
      req.url = original;
      if (err) return next(err);
      if (sub.startsWith('/assets/')) {
        return res.status(404).json(errorBody(404, 'NOT_FOUND', `No dashboard file ${sub}`));
      }
      if (!existsSync(indexFile)) {
        return res.status(404).json(errorBody(404, 'DASHBOARD_NOT_BUILT', 'The dashboard is not built: run `npm run build:ui` (npm start does it)'));
      }
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(indexFile, (sendErr) => {
        if (sendErr && !res.headersSent) next(sendErr);
      });
    });
  };
}
