import { useInfiniteQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { ErrorBox, Loading, StatusBadge } from '../components/common.js';
import { useListKeys } from '../components/keys.js';
import { PipelinePicker } from '../components/PipelinePicker.js';
import { RangePicker } from '../components/RangePicker.js';
import { countsBadge } from '../lib/funnel.js';
import { fmtDuration, fmtPct, fmtTime, rangeBounds, shortId } from '../lib/format.js';

const route = getRouteApi('/steps');
const TYPES = ['llm', 'retrieval', 'filter', 'rank', 'transform', 'tool', 'custom'] as const;
const STATUSES = ['running', 'success', 'error', 'cancelled', 'timed_out'] as const;
type Search = ReturnType<typeof route.useSearch>;

const num = (v?: string) => (v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

export function StepsView() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/steps' });
  const [form, setForm] = useState({
    name: search.name ?? '',
    minElim: search.minElim ?? '',
    maxElim: search.maxElim ?? '',
    minDuration: search.minDuration ?? '',
  });
  const [sel, setSel] = useState(-1);
  const set = (patch: Partial<Search>) => void navigate({ search: (prev) => ({ ...prev, ...patch }) });
  const active = Object.values(search).some(Boolean);
  const steps = useInfiniteQuery({
    queryKey: ['steps', search],
    enabled: active,
    queryFn: async ({ pageParam }) =>
      call(
        sdk.searchSteps({
          client: api,
          query: {
            name: search.name,
            type: TYPES.find((t) => t === search.type),
            status: STATUSES.find((t) => t === search.status),
            pipeline: search.pipeline,
            minEliminationRatio: num(search.minElim),
            maxEliminationRatio: num(search.maxElim),
            minDurationMs: num(search.minDuration),
            ...rangeBounds(search.range, search.from, search.to),
            limit: 100,
            cursor: pageParam ?? undefined,
          },
        }),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: (prev) => prev,
  });
  const items = steps.data?.pages.flatMap((p) => p.items) ?? [];
  useListKeys({
    count: items.length,
    index: sel,
    onMove: setSel,
    onOpen: (i) => void navigate({ to: '/runs/$runId', params: { runId: items[i].runId }, search: { step: items[i].id } }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    set({
      name: form.name.trim() || undefined,
      minElim: form.minElim.trim() || undefined,
      maxElim: form.maxElim.trim() || undefined,
      minDuration: form.minDuration.trim() || undefined,
    });
  };
  return (
    <div>
      <h1>Steps across runs</h1>
      <form className="filters" onSubmit={submit} aria-label="Search steps">
        <label htmlFor="steps-name">
          Name
          <input id="steps-name" data-search value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="filter-by-price" />
        </label>
        <label htmlFor="steps-type">
          Type
          <select id="steps-type" value={search.type ?? ''} onChange={(e) => set({ type: e.target.value || undefined })}>
            <option value="">Any type</option>
            {TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label htmlFor="steps-status">
          Status
          <select id="steps-status" value={search.status ?? ''} onChange={(e) => set({ status: e.target.value || undefined })}>
            <option value="">Any status</option>
            {STATUSES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <PipelinePicker id="steps-pipeline" value={search.pipeline} onChange={(pipeline) => set({ pipeline })} />
        <label htmlFor="steps-min-elim">
          Min elimination (0–1)
          <input id="steps-min-elim" inputMode="decimal" value={form.minElim} onChange={(e) => setForm({ ...form, minElim: e.target.value })} />
        </label>
        <label htmlFor="steps-max-elim">
          Max elimination (0–1)
          <input id="steps-max-elim" inputMode="decimal" value={form.maxElim} onChange={(e) => setForm({ ...form, maxElim: e.target.value })} />
        </label>
        <label htmlFor="steps-min-dur">
          Min duration (ms)
          <input id="steps-min-dur" inputMode="numeric" value={form.minDuration} onChange={(e) => setForm({ ...form, minDuration: e.target.value })} />
        </label>
        <RangePicker idPrefix="steps" range={search.range} from={search.from} to={search.to} onChange={(v) => set(v)} />
        <button type="submit" className="primary">
          Search
        </button>
        <button
          type="button"
          onClick={() => {
            setForm({ ...form, minElim: '0.9', maxElim: '' });
            void navigate({ search: { type: 'filter', minElim: '0.9' } });
          }}
        >
          Filters that dropped more than 90%
        </button>
      </form>
      {!active ? <p className="muted">Search steps of every run by name, type, status, pipeline, elimination ratio, duration and time.</p> : null}
      {steps.error ? <ErrorBox error={steps.error} /> : null}
      {steps.isFetching && !steps.data ? <Loading what="Searching" /> : null}
      {active && steps.data && items.length === 0 ? <p className="muted">No steps match.</p> : null}
      {items.length ? (
        <table className="grid" aria-label="Steps" data-testid="steps-results">
          <thead>
            <tr>
              <th>Step</th>
              <th>Type</th>
              <th>Status</th>
              <th>Pipeline</th>
              <th>Run</th>
              <th>Started</th>
              <th className="num">Duration</th>
              <th className="num">Candidates</th>
              <th className="num">Eliminated</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s, i) => (
              <tr key={s.id} className={i === sel ? 'selected' : undefined} data-testid="step-result">
                <td>
                  <Link to="/runs/$runId" params={{ runId: s.runId }} search={{ step: s.id }}>
                    {s.name}
                  </Link>
                </td>
                <td>{s.type}</td>
                <td>
                  <StatusBadge status={s.status} />
                </td>
                <td>{s.pipeline}</td>
                <td>
                  <Link to="/runs/$runId" params={{ runId: s.runId }} className="mono">
                    {shortId(s.runId)}
                  </Link>
                </td>
                <td>{fmtTime(s.startedAt)}</td>
                <td className="num">{fmtDuration(s.durationMs)}</td>
                <td className="num">{countsBadge(s.candidatesIn, s.candidatesOut)}</td>
                <td className="num">{fmtPct(s.eliminationRatio, 1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {steps.hasNextPage ? (
        <button type="button" onClick={() => void steps.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </div>
  );
}
