import { useInfiniteQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useMemo, useState, type FormEvent } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { DecisionBadge, ErrorBox, Loading } from '../components/common.js';
import { ScoreBadges } from '../components/Scores.js';
import type { Score } from '../lib/scores.js';
import { useListKeys } from '../components/keys.js';
import { PipelinePicker } from '../components/PipelinePicker.js';
import { fmtTime, shortId } from '../lib/format.js';
import { buildLineage, decidingReason, type Evaluation } from '../lib/lineage.js';

const route = getRouteApi('/items');

export function ItemView() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/items' });
  const [key, setKey] = useState(search.key ?? '');
  const [sel, setSel] = useState(-1);
  const lineage = useInfiniteQuery({
    queryKey: ['lineage', search.key, search.pipeline ?? ''],
    enabled: Boolean(search.key),
    queryFn: async ({ pageParam }) =>
      call(sdk.searchCandidates({ client: api, query: { key: search.key!, pipeline: search.pipeline, limit: 200, cursor: pageParam ?? undefined } })),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const items = (lineage.data?.pages.flatMap((p) => p.items) ?? []) as Evaluation[];
  const grid = useMemo(() => buildLineage(items), [items]);
  useListKeys({
    count: items.length,
    index: sel,
    onMove: setSel,
    onOpen: (i) => void navigate({ to: '/runs/$runId', params: { runId: items[i].runId }, search: { step: items[i].stepId } }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void navigate({ search: (prev) => ({ ...prev, key: key.trim() || undefined }) });
  };
  return (
    <div>
      <h1>Item lineage</h1>
      <form className="filters" onSubmit={submit} aria-label="Find an item">
        <label htmlFor="item-key">
          Candidate key
          <input id="item-key" data-search value={key} onChange={(e) => setKey(e.target.value)} placeholder="B0AAA" />
        </label>
        <PipelinePicker id="item-pipeline" value={search.pipeline} onChange={(pipeline) => void navigate({ search: (prev) => ({ ...prev, pipeline }) })} />
        <button type="submit" className="primary">
          Show lineage
        </button>
      </form>
      {!search.key ? <p className="muted">Every evaluation of one candidate key across runs: which steps accepted or rejected it, and why.</p> : null}
      {lineage.error ? <ErrorBox error={lineage.error} /> : null}
      {lineage.isFetching && !lineage.data ? <Loading what="Loading evaluations" /> : null}
      {search.key && lineage.data && items.length === 0 ? <p className="muted">No step evaluated “{search.key}”.</p> : null}
      {items.length ? (
        <>
          <h2>Timeline</h2>
          <p className="muted">Runs across (oldest first), steps down; an outlined cell is where the deciding reason changed from the previous run.</p>
          <div style={{ overflow: 'auto' }}>
            <table className="lineage" aria-label="Lineage timeline" data-testid="lineage-grid">
              <thead>
                <tr>
                  <th className="step">Step</th>
                  {grid.runs.map((r) => (
                    <th key={r.runId} scope="col">
                      <Link to="/runs/$runId" params={{ runId: r.runId }} title={`${r.pipeline} · ${fmtTime(r.at)}`} className="mono">
                        …{r.runId.slice(-6)}
                      </Link>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {grid.steps.map((name, si) => (
                  <tr key={name}>
                    <th className="step" scope="row">
                      {name}
                    </th>
                    {grid.cells[si].map((cell, ri) => (
                      <td key={ri}>
                        {cell ? (
                          <Link
                            to="/runs/$runId"
                            params={{ runId: cell.evaluation.runId }}
                            search={{ step: cell.evaluation.stepId }}
                            className={`cell d-${cell.evaluation.decision}${cell.reasonChanged || cell.decisionChanged ? ' changed' : ''}`}
                            title={`${cell.evaluation.decision}: ${decidingReason(cell.evaluation) || 'no reason'}`}
                            aria-label={`${name} in run ${shortId(cell.evaluation.runId)}: ${cell.evaluation.decision}${cell.reasonChanged ? ', reason changed' : ''}`}
                          >
                            {cell.evaluation.decision[0].toUpperCase()}
                          </Link>
                        ) : null}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Evaluations</h2>
          <table className="grid" aria-label="Evaluations" data-testid="lineage-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Pipeline</th>
                <th>Run</th>
                <th>Step</th>
                <th>Decision</th>
                <th className="num">Score</th>
                <th>Reason and checks</th>
                <th>Judged</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e, i) => (
                <tr key={`${e.stepId}-${i}`} className={i === sel ? 'selected' : undefined} data-testid="lineage-row">
                  <td>{fmtTime(e.createdAt)}</td>
                  <td>{e.pipeline}</td>
                  <td>
                    <Link to="/runs/$runId" params={{ runId: e.runId }} className="mono">
                      {shortId(e.runId)}
                    </Link>
                  </td>
                  <td>
                    <Link to="/runs/$runId" params={{ runId: e.runId }} search={{ step: e.stepId }}>
                      {e.stepName}
                    </Link>
                  </td>
                  <td>
                    <DecisionBadge decision={e.decision} />
                  </td>
                  <td className="num">{e.score ?? ''}</td>
                  <td className="wrap">
                    {e.reason ?? ''}
                    {(Array.isArray(e.evaluations) ? e.evaluations : []).map((c, j) => (
                      <span key={j} className={c.passed ? 'check-passed' : 'check-failed'} style={{ marginLeft: 6 }}>
                        {c.passed ? '✓' : '✗'} {c.check}
                        {c.detail ? `: ${c.detail}` : ''}
                      </span>
                    ))}
                  </td>
                  <td>
                    {/* Scores of this evaluation (the candidate of this step and key), when the API sends them. */}
                    <ScoreBadges scores={(e as { scores?: Score[] }).scores} max={3} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {lineage.hasNextPage ? (
            <button type="button" onClick={() => void lineage.fetchNextPage()}>
              Load more
            </button>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
