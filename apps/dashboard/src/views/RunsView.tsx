import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useMemo, useState, type FormEvent } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import type { RunDto } from '../api/sdk.js';
import { EmptyProject, ErrorBox, Loading, saveBlob, StatusBadge } from '../components/common.js';
import { useListKeys } from '../components/keys.js';
import { PipelinePicker } from '../components/PipelinePicker.js';
import { RangePicker } from '../components/RangePicker.js';
import { exportFileName, exportQuery } from '../lib/export.js';
import { ScoreBadges } from '../components/Scores.js';
import { fmtDuration, fmtTime, fmtTokens, fmtUsd, parseMetadataFilter, rangeBounds, shortId } from '../lib/format.js';
import { parseScoreFilter, type Score } from '../lib/scores.js';

const route = getRouteApi('/runs');
const STATUSES = ['running', 'success', 'error', 'cancelled', 'timed_out'] as const;
const SORTS = [
  { id: '-startedAt', label: 'Newest first' },
  { id: '-costUsd', label: 'Most expensive first' },
  { id: '-totalTokens', label: 'Most tokens first' },
  { id: 'costUsd', label: 'Cheapest first' },
] as const;
type Search = ReturnType<typeof route.useSearch>;

/** Optional counters some list answers carry (steps, candidates); shown when present. */
type RunRow = RunDto & { stepCount?: number; candidateCount?: number };

export function RunsView() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/runs' });
  const set = (patch: Partial<Search>) => void navigate({ search: (prev) => clean({ ...prev, ...patch, sel: undefined }) });
  const [chosen, setChosen] = useState<string[]>([]);
  const [text, setText] = useState({
    tag: search.tag ?? '',
    meta: search.meta ?? '',
    q: search.q ?? '',
    minDuration: search.minDuration ?? '',
    minCost: search.minCost ?? '',
    score: search.score ?? '',
  });
  const scoreFilter = search.score ? parseScoreFilter(search.score) : undefined;
  const scoreName = scoreFilter && !('error' in scoreFilter) ? scoreFilter.name : undefined;

  const query = useMemo(() => {
    const bounds = rangeBounds(search.range, search.from, search.to);
    const minDurationMs = search.minDuration ? Number(search.minDuration) : undefined;
    const minCostUsd = search.minCost ? Number(search.minCost) : undefined;
    return {
      pipeline: search.pipeline,
      status: STATUSES.find((s) => s === search.status),
      tag: search.tag
        ? search.tag
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean)
        : undefined,
      metadata: parseMetadataFilter(search.meta),
      q: search.q,
      minDurationMs: Number.isFinite(minDurationMs) ? minDurationMs : undefined,
      minCostUsd: minCostUsd !== undefined && Number.isFinite(minCostUsd) && minCostUsd >= 0 ? minCostUsd : undefined,
      sort: SORTS.find((o) => o.id === search.sort)?.id,
      // `score[<name>]=<condition>`: runs with a score of their own that matches.
      ...(scoreFilter && !('error' in scoreFilter) ? { score: scoreFilter.query } : {}),
      ...bounds,
      limit: 50,
    };
    // `range` presets are relative: the key includes the preset id, not the computed instant.
  }, [
    search.pipeline,
    search.status,
    search.tag,
    search.meta,
    search.q,
    search.minDuration,
    search.minCost,
    search.sort,
    search.score,
    search.range,
    search.from,
    search.to,
  ]);

  const runs = useInfiniteQuery({
    queryKey: ['runs', { ...search, sel: undefined }],
    queryFn: async ({ pageParam }) => call(sdk.listRuns({ client: api, query: { ...query, cursor: pageParam ?? undefined } })),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: (prev) => prev,
    refetchInterval: (q) =>
      search.live === '1' && q.state.data?.pages.some((p) => p.items.some((r) => r.status === 'running')) ? 3000 : search.live === '1' ? 10_000 : false,
  });
  const items = (runs.data?.pages.flatMap((p) => p.items) ?? []) as RunRow[];
  const selIndex = items.findIndex((r) => r.id === search.sel);
  const hasCounts = items.some((r) => r.stepCount !== undefined);
  // The filtered score's values, for its column: the newest 500 scores of that name, by run.
  const named = useQuery({
    queryKey: ['scores-named', scoreName ?? ''],
    enabled: Boolean(scoreName),
    queryFn: async () => {
      const page = await call(sdk.listScores({ client: api, query: { name: scoreName, limit: 500 } }));
      const byRun = new Map<string, Score[]>();
      for (const s of page.items) if (s.target === 'run') byRun.set(s.runId, [...(byRun.get(s.runId) ?? []), s]);
      return byRun;
    },
  });
  const filtered = Object.entries(search).some(([k, v]) => k !== 'sel' && k !== 'live' && v);

  useListKeys({
    count: items.length,
    index: selIndex,
    onMove: (i) => {
      void navigate({ search: (prev) => ({ ...prev, sel: items[i].id }), replace: true });
      document.getElementById(`run-${items[i].id}`)?.scrollIntoView({ block: 'nearest' });
    },
    onOpen: (i) => void navigate({ to: '/runs/$runId', params: { runId: items[i].id } }),
  });

  const submitText = (e: FormEvent) => {
    e.preventDefault();
    set({
      tag: text.tag.trim() || undefined,
      meta: text.meta.trim() || undefined,
      q: text.q.trim() || undefined,
      minDuration: text.minDuration.trim() || undefined,
      minCost: text.minCost.trim() || undefined,
      score: text.score.trim() || undefined,
    });
  };
  const scoreProblem = text.score.trim() ? parseScoreFilter(text.score) : undefined;
  const toggle = (id: string) => setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c.slice(-1), id]));

  return (
    <div>
      <h1>Runs</h1>
      <form className="filters" onSubmit={submitText} aria-label="Filter runs">
        <PipelinePicker id="runs-pipeline" value={search.pipeline} onChange={(pipeline) => set({ pipeline })} />
        <label htmlFor="runs-status">
          Status
          <select id="runs-status" value={search.status ?? ''} onChange={(e) => set({ status: e.target.value || undefined })}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <RangePicker idPrefix="runs" range={search.range} from={search.from} to={search.to} onChange={(v) => set(v)} />
        <label htmlFor="runs-q">
          Search text
          <input
            id="runs-q"
            data-search
            type="search"
            value={text.q}
            onChange={(e) => setText({ ...text, q: e.target.value })}
            placeholder="error message, input…"
          />
        </label>
        <label htmlFor="runs-tag">
          Tag
          <input id="runs-tag" value={text.tag} onChange={(e) => setText({ ...text, tag: e.target.value })} placeholder="nightly" />
        </label>
        <label htmlFor="runs-meta">
          Metadata key=value
          <input id="runs-meta" value={text.meta} onChange={(e) => setText({ ...text, meta: e.target.value })} placeholder="customer=acme" />
        </label>
        <label htmlFor="runs-score">
          Score
          <input
            id="runs-score"
            value={text.score}
            onChange={(e) => setText({ ...text, score: e.target.value })}
            placeholder="correct=false"
            title="name=value (true, false, a number or a label), or name>=0.8, name<2…: runs with a score of their own that matches"
            aria-invalid={scoreProblem && 'error' in scoreProblem ? true : undefined}
          />
        </label>
        <label htmlFor="runs-min">
          Min duration (ms)
          <input id="runs-min" inputMode="numeric" value={text.minDuration} onChange={(e) => setText({ ...text, minDuration: e.target.value })} />
        </label>
        <label htmlFor="runs-min-cost">
          Min cost (USD)
          <input id="runs-min-cost" inputMode="decimal" value={text.minCost} onChange={(e) => setText({ ...text, minCost: e.target.value })} />
        </label>
        <label htmlFor="runs-sort">
          Order
          <select
            id="runs-sort"
            value={search.sort ?? '-startedAt'}
            onChange={(e) => set({ sort: e.target.value === '-startedAt' ? undefined : e.target.value })}
          >
            {SORTS.map((o) => (
              <option key={o.id} value={o.id}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
        <label className="row" htmlFor="runs-live">
          <span>
            <input id="runs-live" type="checkbox" checked={search.live === '1'} onChange={(e) => set({ live: e.target.checked ? '1' : undefined })} /> Live
          </span>
        </label>
        <button
          type="button"
          className="primary"
          disabled={chosen.length !== 2}
          onClick={() => void navigate({ to: '/compare/$runA/$runB', params: { runA: chosen[0], runB: chosen[1] } })}
        >
          Compare selected ({chosen.length}/2)
        </button>
        <ExportButton search={search} />
      </form>
      {scoreProblem && 'error' in scoreProblem ? (
        <p className="check-failed" role="alert">
          {scoreProblem.error}
        </p>
      ) : null}
      {runs.error ? <ErrorBox error={runs.error} /> : null}
      {runs.isPending ? <Loading what="Loading runs" /> : null}
      {!runs.isPending && items.length === 0 && !runs.error ? filtered ? <p className="muted">No runs match these filters.</p> : <EmptyProject /> : null}
      {items.length > 0 ? (
        <table className="grid" aria-label="Runs">
          <thead>
            <tr>
              <th>
                <span className="sr-only">Compare</span>
              </th>
              <th>Status</th>
              <th>Pipeline</th>
              <th>Version</th>
              <th>Started</th>
              <th className="num">Duration</th>
              <th className="num">Tokens</th>
              <th className="num">Cost</th>
              {hasCounts ? (
                <>
                  <th className="num">Steps</th>
                  <th className="num">Candidates</th>
                </>
              ) : null}
              {scoreName ? <th>Score: {scoreName}</th> : null}
              <th>Error</th>
              <th>Run</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r, i) => (
              <tr key={r.id} id={`run-${r.id}`} className={i === selIndex ? 'selected' : undefined} aria-selected={i === selIndex} data-testid="run-row">
                <td>
                  <input type="checkbox" aria-label={`Select run ${shortId(r.id)} to compare`} checked={chosen.includes(r.id)} onChange={() => toggle(r.id)} />
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{r.pipeline}</td>
                <td>{r.pipelineVersion ?? '—'}</td>
                <td>{fmtTime(r.startedAt)}</td>
                <td className="num">{fmtDuration(r.durationMs)}</td>
                <td className="num" data-testid="run-tokens" title={`${r.inputTokens} in · ${r.outputTokens} out`}>
                  {r.totalTokens ? fmtTokens(r.totalTokens) : '—'}
                </td>
                <td className="num" data-testid="run-cost">
                  {r.costUsd ? fmtUsd(r.costUsd) : '—'}
                </td>
                {hasCounts ? (
                  <>
                    <td className="num">{r.stepCount?.toLocaleString('en-US') ?? '—'}</td>
                    <td className="num">{r.candidateCount?.toLocaleString('en-US') ?? '—'}</td>
                  </>
                ) : null}
                {scoreName ? (
                  <td data-testid="run-score-cell">
                    {named.data?.get(r.id) ? (
                      <ScoreBadges scores={named.data.get(r.id)} max={3} />
                    ) : (
                      <span className="muted">{named.isPending ? '…' : '—'}</span>
                    )}
                  </td>
                ) : null}
                <td className="wrap">{r.error ? `${r.error.type}: ${r.error.message}`.slice(0, 160) : ''}</td>
                <td>
                  <Link to="/runs/$runId" params={{ runId: r.id }} className="mono">
                    {shortId(r.id)}
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {runs.hasNextPage ? (
        <p>
          <button type="button" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
            {runs.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        </p>
      ) : null}
      <p className="muted">j/k move, Enter opens, / searches. {SORTS.find((o) => o.id === (search.sort ?? '-startedAt'))?.label}; pages of 50.</p>
    </div>
  );
}

/**
 * Downloads the NDJSON export of the list's pipeline and time range. The export needs the key
 * in the Authorization header, so it is fetched (through the generated client) and saved from a
 * blob rather than opened as a link.
 */
function ExportButton({ search }: { search: Search }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const download = async () => {
    const query = exportQuery(search);
    setState({ busy: true });
    try {
      const blob = await call(sdk.exportRuns({ client: api, query, parseAs: 'blob' }));
      saveBlob(blob as unknown as Blob, exportFileName(query));
      setState({ busy: false });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <>
      <button
        type="button"
        onClick={() => void download()}
        disabled={state.busy}
        title="Download the runs of this pipeline and time range, with their steps and candidates, as NDJSON (other filters do not apply)"
      >
        {state.busy ? 'Exporting…' : 'Export'}
      </button>
      {state.error ? <ErrorBox error={state.error} /> : null}
    </>
  );
}

function clean<T extends Record<string, unknown>>(o: T): T {
  const out = { ...o };
  for (const k of Object.keys(out)) if (out[k] === undefined || out[k] === '') delete out[k];
  return out;
}
