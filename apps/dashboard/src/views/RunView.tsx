import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import type { RunDetailDto, StepListItemDto, StepNodeDto } from '../api/sdk.js';
import { useRunScores } from '../api/queries.js';
import { ErrorBox, JsonBlock, Loading, StatusBadge } from '../components/common.js';
import { AddScore, ScoreBadges, ScoreList } from '../components/Scores.js';
import { useListKeys } from '../components/keys.js';
import { buildFunnel, countsBadge, fmtInt } from '../lib/funnel.js';
import { fmtDuration, fmtTime, fmtTokens, fmtUsd } from '../lib/format.js';
import type { Score } from '../lib/scores.js';
import { ancestorsOf, buildTree, flattenTree, timeSpan, type TreeRow } from '../lib/tree.js';
import { DeleteRun } from './DeleteRun.js';
import { StepPanel } from './StepPanel.js';

const route = getRouteApi('/runs/$runId');
const ROW = 28;

type Node = StepNodeDto;
type RunAnswer = RunDetailDto;

export function RunView() {
  const { runId } = route.useParams();
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/runs/$runId' });
  const run = useQuery({
    queryKey: ['run', runId],
    queryFn: () => call(sdk.getRun({ client: api, path: { id: runId }, query: { stepLimit: 1000 } })),
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 3000 : false),
  });
  const scores = useRunScores(runId);
  // A big run's tree comes bounded; the rest is fetched on demand as a flat, paged list.
  const [loadAll, setLoadAll] = useState(false);
  const rest = useQuery({
    queryKey: ['run-steps', runId],
    enabled: loadAll && Boolean(run.data?.stepsTruncated),
    queryFn: async () => {
      const all: StepListItemDto[] = [];
      let cursor: string | undefined;
      do {
        const page = await call(sdk.listRunSteps({ client: api, path: { runId }, query: { limit: 1000, cursor } }));
        all.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return buildTree(all) as unknown as Node[];
    },
  });

  const steps: Node[] = (rest.data ?? run.data?.steps ?? []) as Node[];
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const span = useMemo(() => (run.data ? timeSpan(run.data.startedAt, run.data.endedAt, steps) : { start: 0, end: 1 }), [run.data, steps]);
  const rows = useMemo(() => flattenTree(steps, span, collapsed), [steps, span, collapsed]);
  const funnel = useMemo(() => buildFunnel(steps), [steps]);
  const selectedIndex = rows.findIndex((r) => r.step.id === search.step);

  // A deep-linked step inside a collapsed branch: open its ancestors.
  useEffect(() => {
    if (!search.step || selectedIndex >= 0 || !steps.length) return;
    const up = ancestorsOf(steps, search.step);
    if (up?.some((id) => collapsed.has(id))) setCollapsed((c) => new Set([...c].filter((id) => !up.includes(id))));
  }, [search.step, selectedIndex, steps, collapsed]);

  const selectStep = (id: string, extra: { decision?: string; reason?: string } = {}) =>
    void navigate({ search: { step: id, decision: extra.decision, reason: extra.reason }, replace: !extra.decision && !extra.reason });

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scrollRef.current, estimateSize: () => ROW, overscan: 12 });

  // Keep the selected step in view (a deep link to a step far down a big tree, or j/k).
  useEffect(() => {
    if (selectedIndex >= 0) virtual.scrollToIndex(selectedIndex, { align: 'auto' });
  }, [selectedIndex, virtual]);

  useListKeys({
    count: rows.length,
    index: selectedIndex,
    onMove: (i) => selectStep(rows[i].step.id),
    onOpen: (i) => {
      const r = rows[i];
      if (r.hasChildren) setCollapsed((c) => toggled(c, r.step.id));
    },
  });

  if (run.isPending) return <Loading what="Loading run" />;
  if (run.error) return <ErrorBox error={run.error} />;
  const r = run.data;
  const stepCount = r.stepCount ?? rows.length;
  const stepScores = scores.data?.steps;

  return (
    <>
      <RunHeader run={r} />
      <div className="run-layout">
        <section className="pane" aria-label="Steps">
          <div className="pane-head">
            <b>Steps</b>
            <span className="muted">
              {fmtInt(stepCount)} step{stepCount === 1 ? '' : 's'} · {fmtDuration(span.end - span.start)}
            </span>
            <span className="spacer" />
            <button type="button" onClick={() => setCollapsed(new Set(rows.filter((x) => x.hasChildren).map((x) => x.step.id)))}>
              Collapse all
            </button>
            <button type="button" onClick={() => setCollapsed(new Set())}>
              Expand all
            </button>
          </div>
          {r.stepsTruncated && !rest.data ? (
            <p className="notice" data-testid="steps-truncated">
              This run has {fmtInt(r.stepCount ?? 0)} steps; the first {fmtInt(countAll(r.steps))} are shown.{' '}
              <button type="button" onClick={() => setLoadAll(true)} disabled={rest.isFetching}>
                {rest.isFetching ? 'Loading…' : 'Load all steps'}
              </button>
            </p>
          ) : null}
          {rest.error ? <ErrorBox error={rest.error} /> : null}
          <div className="tree" ref={scrollRef} role="tree" aria-label="Step tree" tabIndex={0} data-testid="step-tree">
            <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
              {virtual.getVirtualItems().map((v) => (
                <StepRow
                  key={rows[v.index].step.id}
                  row={rows[v.index]}
                  top={v.start}
                  selected={v.index === selectedIndex}
                  collapsed={collapsed.has(rows[v.index].step.id)}
                  scores={stepScores?.get(rows[v.index].step.id)}
                  onSelect={() => selectStep(rows[v.index].step.id)}
                  onToggle={() => setCollapsed((c) => toggled(c, rows[v.index].step.id))}
                />
              ))}
            </div>
          </div>
          {funnel.length ? (
            <div className="pane-body" style={{ flex: '0 0 auto', maxHeight: '38%', borderTop: '1px solid var(--border)' }}>
              <h3>Candidate funnel</h3>
              <div className="funnel" data-testid="funnel">
                {funnel.map((f) => (
                  <div className="funnel-row" key={f.id} data-step={f.name} data-in={f.in} data-out={f.out}>
                    <button
                      type="button"
                      className="drop"
                      style={{ paddingLeft: 6 + f.depth * 10, border: 0, background: 'none', color: 'var(--accent)' }}
                      onClick={() => selectStep(f.id)}
                    >
                      {f.name}
                    </button>
                    <div className="funnel-bar" title={`${fmtInt(f.in)} in, ${fmtInt(f.out)} out`}>
                      <span className="in" style={{ width: `${f.inWidth * 100}%` }} />
                      <span className="out" style={{ width: `${f.outWidth * 100}%` }} />
                    </div>
                    <button
                      type="button"
                      className="drop"
                      onClick={() => selectStep(f.id, { decision: 'rejected' })}
                      title={`${f.name}: show the rejected candidates`}
                    >
                      <span className="funnel-nums">
                        {fmtInt(f.in)} → {fmtInt(f.out)}
                      </span>{' '}
                      <span
                        className={f.flag === 'none-dropped' ? 'flag-none' : f.flag ? 'check-failed' : 'muted'}
                        title={f.flag ? f.flag.replace('-', ' ') : undefined}
                      >
                        −{fmtInt(f.dropped)}
                      </span>
                      <span className="sr-only"> dropped: show rejected candidates of {f.name}</span>
                    </button>
                  </div>
                ))}
              </div>
            </div>
          ) : null}
        </section>
        <section className="pane" aria-label="Selected step">
          {search.step ? (
            <StepPanel key={search.step} stepId={search.step} runId={runId} decision={search.decision} reason={search.reason} />
          ) : (
            <div className="pane-body muted">Select a step (click, or j/k) to see its input, output, reasoning and candidates.</div>
          )}
        </section>
      </div>
    </>
  );
}

function countAll(steps: StepNodeDto[]): number {
  let n = 0;
  const walk = (l: StepNodeDto[]) => {
    for (const s of l) {
      n++;
      walk(s.children ?? []);
    }
  };
  walk(steps);
  return n;
}

function toggled(set: Set<string>, id: string): Set<string> {
  const next = new Set(set);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}

function StepRow({
  row,
  top,
  selected,
  collapsed,
  scores,
  onSelect,
  onToggle,
}: {
  row: TreeRow<Node>;
  top: number;
  selected: boolean;
  collapsed: boolean;
  scores?: Score[];
  onSelect: () => void;
  onToggle: () => void;
}) {
  const s = row.step;
  return (
    <div
      className={`tree-row${selected ? ' selected' : ''}`}
      style={{ transform: `translateY(${top}px)` }}
      role="treeitem"
      aria-selected={selected}
      aria-level={row.depth + 1}
      aria-expanded={row.hasChildren ? !collapsed : undefined}
      data-step-id={s.id}
      data-testid="step-row"
      onClick={onSelect}
    >
      <span className="tree-name" style={{ paddingLeft: row.depth * 14 }}>
        {row.hasChildren ? (
          <button
            type="button"
            className="twisty"
            aria-label={collapsed ? `Expand ${s.name}` : `Collapse ${s.name}`}
            onClick={(e) => {
              e.stopPropagation();
              onToggle();
            }}
          >
            {collapsed ? '▸' : '▾'}
          </button>
        ) : (
          <span className="twisty" />
        )}
        {s.name}
        <ScoreBadges scores={scores} max={2} compact />
      </span>
      <span className="muted">{s.type}</span>
      <StatusBadge status={s.status} />
      <span className="wf" title={`${fmtTime(s.startedAt)} · ${fmtDuration(s.durationMs)}`}>
        <i className={`st-${s.status}`} style={{ left: `${row.offset * 100}%`, width: `${row.width * 100}%` }} />
      </span>
      <span className="counts">{countsBadge(s.candidatesIn, s.candidatesOut) || fmtDuration(s.durationMs)}</span>
    </div>
  );
}

function RunHeader({ run }: { run: RunAnswer }) {
  const [open, setOpen] = useState(false);
  return (
    <section aria-label="Run" style={{ marginBottom: 8 }}>
      <div className="row" style={{ marginBottom: 4 }}>
        <h1 style={{ margin: 0 }}>
          {run.pipeline} <span className="muted mono">{run.id}</span>
        </h1>
        <StatusBadge status={run.status} />
        <Link to="/runs" search={{ pipeline: run.pipeline }}>
          Runs of this pipeline
        </Link>
        <Link to="/analytics/$pipeline" params={{ pipeline: run.pipeline }}>
          Analytics
        </Link>
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Hide details' : 'Input, output, metadata'}
        </button>
        <DeleteRun run={run} />
      </div>
      <div className="run-header">
        <div>
          <span>Version</span>
          <span>{run.pipelineVersion ?? '—'}</span>
        </div>
        <div>
          <span>Started</span>
          <span>{fmtTime(run.startedAt)}</span>
        </div>
        <div>
          <span>Ended</span>
          <span>{fmtTime(run.endedAt)}</span>
        </div>
        <div>
          <span>Duration</span>
          <span>{fmtDuration(run.durationMs)}</span>
        </div>
        {run.totalTokens || run.costUsd ? (
          <>
            <div>
              <span>Tokens</span>
              <span data-testid="run-header-tokens" title={`${run.inputTokens} in · ${run.outputTokens} out · ${run.totalTokens} total`}>
                {fmtTokens(run.totalTokens)} ({fmtTokens(run.inputTokens)} in · {fmtTokens(run.outputTokens)} out)
              </span>
            </div>
            <div>
              <span>Cost</span>
              <span data-testid="run-header-cost">{fmtUsd(run.costUsd)}</span>
            </div>
          </>
        ) : null}
        <div>
          <span>Tags</span>
          <span>
            {run.tags.length
              ? run.tags.map((t) => (
                  <span className="tag" key={t}>
                    {t}
                  </span>
                ))
              : '—'}
          </span>
        </div>
      </div>
      <RunScores runId={run.id} />
      {run.error ? (
        <div className="error-box">
          <b>{run.error.type ?? 'Error'}:</b> {run.error.message}
          {run.error.stack ? <pre>{run.error.stack}</pre> : null}
        </div>
      ) : null}
      {open ? (
        <div className="details-grid">
          <div>
            <h3>Input</h3>
            <JsonBlock value={run.input} name="run-input" />
          </div>
          <div>
            <h3>Output</h3>
            <JsonBlock value={run.output} name="run-output" />
          </div>
          <div>
            <h3>Metadata</h3>
            <JsonBlock value={run.metadata} name="run-metadata" />
          </div>
        </div>
      ) : null}
    </section>
  );
}

/** The run's own scores as chips, every score of it on request, and the add-score form. */
function RunScores({ runId }: { runId: string }) {
  const scores = useRunScores(runId);
  const [open, setOpen] = useState(false);
  const own = scores.data?.run ?? [];
  const all = scores.data?.all.length ?? 0;
  return (
    <div className="row run-scores" data-testid="run-scores" aria-label="Run scores" role="group">
      <b>Scores</b>
      {own.length ? <ScoreBadges scores={own} max={8} /> : <span className="muted">{scores.isPending ? 'loading…' : 'none on the run'}</span>}
      {all > own.length ? (
        <span className="muted">
          {all - own.length} on its steps and candidates{scores.data?.more ? ' (first 5,000 loaded)' : ''}
        </span>
      ) : null}
      {own.length ? (
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Hide scores' : 'Run scores in full'}
        </button>
      ) : null}
      <AddScore target={{ runId }} runId={runId} what="this run" />
      {scores.error ? <ErrorBox error={scores.error} /> : null}
      {open ? <ScoreList scores={own} label="Scores of the run" /> : null}
    </div>
  );
}
