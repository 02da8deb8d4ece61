import { createRootRoute, createRoute, createRouter, redirect } from '@tanstack/react-router';
import { lazy } from 'react';
import { Layout } from './views/Layout.js';
import { RunsView } from './views/RunsView.js';
import { RunView } from './views/RunView.js';
import { ItemView } from './views/ItemView.js';
import { StepsView } from './views/StepsView.js';
import { CompareView } from './views/CompareView.js';
import { KeysView } from './views/KeysView.js';
import { ProjectView } from './views/ProjectView.js';
import { NotFound } from './views/NotFound.js';

// Charts (uPlot) load only when an analytics view opens: the first view stays small.
const AnalyticsView = lazy(() => import('./views/AnalyticsView.js'));
const AnalyticsIndex = lazy(() => import('./views/AnalyticsView.js').then((m) => ({ default: m.AnalyticsIndex })));

/** Every view's state is in the URL: only these search keys are kept, all as strings. */
function strings<K extends string>(...keys: K[]) {
  return (search: Record<string, unknown>): Partial<Record<K, string>> => {
    const out: Partial<Record<K, string>> = {};
    for (const k of keys) {
      const v = search[k];
      if (typeof v === 'string' && v !== '') out[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    }
    return out;
  };
}

const rootRoute = createRootRoute({ component: Layout, notFoundComponent: NotFound });

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/runs' });
  },
});

export const runsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/runs',
  validateSearch: strings('pipeline', 'status', 'tag', 'range', 'from', 'to', 'meta', 'q', 'minDuration', 'minCost', 'sort', 'score', 'live', 'sel'),
  component: RunsView,
});

export const runRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/runs/$runId',
  validateSearch: strings('step', 'decision', 'reason', 'cand'),
  component: RunView,
});

export const itemsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/items',
  validateSearch: strings('key', 'pipeline', 'decision'),
  component: ItemView,
});

export const stepsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/steps',
  validateSearch: strings('name', 'type', 'status', 'pipeline', 'minElim', 'maxElim', 'minDuration', 'range', 'from', 'to'),
  component: StepsView,
});

export const compareRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/compare/$runA/$runB',
  component: CompareView,
});

export const analyticsIndexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/analytics',
  component: AnalyticsIndex,
});

export const analyticsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/analytics/$pipeline',
  validateSearch: strings('range', 'from', 'to'),
  component: AnalyticsView,
});

export const keysRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/settings/keys',
  component: KeysView,
});

export const projectRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/settings/project',
  component: ProjectView,
});

const routeTree = rootRoute.addChildren([
  indexRoute,
  runsRoute,
  runRoute,
  itemsRoute,
  stepsRoute,
  compareRoute,
  analyticsIndexRoute,
  analyticsRoute,
  keysRoute,
  projectRoute,
]);

/** Plain `?a=b` query strings (the default JSON-encodes values such as "0.9"), so links stay readable. */
function parseSearch(search: string): Record<string, unknown> {
  return Object.fromEntries(new URLSearchParams(search.startsWith('?') ? search.slice(1) : search));
}
function stringifySearch(search: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(search)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

export const router = createRouter({ routeTree, basepath: '/ui', defaultPreload: false, scrollRestoration: false, parseSearch, stringifySearch });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
