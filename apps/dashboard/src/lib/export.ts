import { rangeBounds } from './format.js';

/** What the runs list's Export button asks GET /v1/export for: the list's pipeline and time range. */
export interface ExportQuery {
  pipeline?: string;
  from?: string;
  to?: string;
}

/**
 * The export of the runs list's current view. The export filters by pipeline and time only, so
 * the list's other filters (status, tag, text…) do not narrow it.
 */
export function exportQuery(search: { pipeline?: string; range?: string; from?: string; to?: string }, now = Date.now()): ExportQuery {
  const { from, to } = rangeBounds(search.range, search.from, search.to, now);
  const query: ExportQuery = { pipeline: search.pipeline || undefined, from, to };
  for (const k of Object.keys(query) as (keyof ExportQuery)[]) if (query[k] === undefined) delete query[k];
  return query;
}

/** e.g. `xray-competitor-selection-2026-01-08T00-00-00.ndjson`; `all` without a pipeline. */
export function exportFileName(query: ExportQuery, now = new Date()): string {
  const pipeline = (query.pipeline ?? 'all').replace(/[^A-Za-z0-9._-]+/g, '_');
  return `xray-${pipeline}-${now.toISOString().slice(0, 19).replace(/:/g, '-')}.ndjson`;
}
