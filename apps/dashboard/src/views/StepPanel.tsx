import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import type { CandidateListItemDto, EvaluationDto } from '../api/sdk.js';
import { useRunScores } from '../api/queries.js';
import { DecisionBadge, ErrorBox, JsonBlock, Loading, StatusBadge } from '../components/common.js';
import { AddScore, ScoreBadges, ScoreList } from '../components/Scores.js';
import { candidateKey } from '../lib/scores.js';
import { fmtDuration, fmtPct, fmtTime, fmtTokens, fmtUsage, fmtUsd } from '../lib/format.js';
import { fmtInt } from '../lib/funnel.js';

const DECISIONS = ['accepted', 'rejected', 'selected'] as const;
type Candidate = CandidateListItemDto;

/** A list item's evaluations, unless they were replaced by a preview (then the full item has them). */
const checksOf = (v: unknown): EvaluationDto[] => (Array.isArray(v) ? (v as EvaluationDto[]) : []);

interface CaptureInfo {
  capture?: string;
  total?: number;
  out?: number;
  reasons?: Record<string, number>;
}

export function StepPanel({ stepId, runId, decision, reason }: { stepId: string; runId: string; decision?: string; reason?: string }) {
  const step = useQuery({ queryKey: ['step', stepId], queryFn: () => call(sdk.getStep({ client: api, path: { id: stepId } })) });
  const scores = useRunScores(runId);
  const own = scores.data?.steps.get(stepId) ?? [];
  if (step.isPending)
    return (
      <div className="pane-body">
        <Loading what="Loading step" />
      </div>
    );
  if (step.error)
    return (
      <div className="pane-body">
        <ErrorBox error={step.error} />
      </div>
    );
  const s = step.data;
  const xray = (s.metadata?.xray ?? null) as CaptureInfo | null;
  const sampled = s.candidatesStored < s.candidatesIn;
  return (
    <>
      <div className="pane-head">
        <b>{s.name}</b>
        <span className="muted">{s.type}</span>
        <StatusBadge status={s.status} />
        <span className="muted">{fmtDuration(s.durationMs)}</span>
      </div>
      <div className="pane-body" data-testid="step-panel">
        <div className="run-header">
          <div>
            <span>Started</span>
            <span>{fmtTime(s.startedAt)}</span>
          </div>
          <div>
            <span>Ended</span>
            <span>{fmtTime(s.endedAt)}</span>
          </div>
          <div>
            <span>Candidates in</span>
            <span data-testid="step-in">{fmtInt(s.candidatesIn)}</span>
          </div>
          <div>
            <span>Candidates out</span>
            <span data-testid="step-out">{fmtInt(s.candidatesOut)}</span>
          </div>
          <div>
            <span>Eliminated</span>
            <span>{fmtPct(s.eliminationRatio, 1)}</span>
          </div>
          <div>
            <span>Stored</span>
            <span>{fmtInt(s.candidatesStored)}</span>
          </div>
        </div>
        {s.model || s.usage || s.costUsd != null ? (
          <section aria-label="Model call" data-testid="step-llm">
            <h3>Model call</h3>
            <div className="run-header">
              <div>
                <span>Model</span>
                <span data-testid="step-model">
                  {s.model ?? '—'}
                  {s.provider ? <span className="muted"> ({s.provider})</span> : null}
                </span>
              </div>
              <div>
                <span>Tokens</span>
                <span data-testid="step-tokens" title={s.usage ? `${fmtTokens(s.usage.total)} total` : undefined}>
                  {fmtUsage(s.usage)}
                </span>
              </div>
              {s.usage?.reasoning ? (
                <div>
                  <span>Reasoning tokens</span>
                  <span>{fmtTokens(s.usage.reasoning)}</span>
                </div>
              ) : null}
              <div>
                <span>Cost</span>
                <span
                  data-testid="step-cost"
                  title={
                    s.costSource === 'price' && s.costPrice
                      ? `Computed with the price of ${s.costPrice.modelPattern}: $${s.costPrice.inputPerMillion} in / $${s.costPrice.outputPerMillion} out per million tokens`
                      : s.costSource === 'client'
                        ? 'Sent with the step'
                        : undefined
                  }
                >
                  {fmtUsd(s.costUsd)}
                  {s.costSource ? <span className="muted"> ({s.costSource === 'price' ? `priced as ${s.costPrice?.modelPattern}` : 'sent'})</span> : null}
                </span>
              </div>
              {s.timeToFirstTokenMs != null ? (
                <div>
                  <span>First token</span>
                  <span>{fmtDuration(s.timeToFirstTokenMs)}</span>
                </div>
              ) : null}
            </div>
            {s.modelParameters && Object.keys(s.modelParameters).length ? (
              <p className="muted mono" data-testid="step-model-parameters">
                {Object.entries(s.modelParameters)
                  .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
                  .join(' · ')}
              </p>
            ) : null}
          </section>
        ) : null}
        {s.error ? (
          <div className="error-box">
            <b>{s.error.type ?? 'Error'}:</b> {s.error.message}
            {s.error.stack ? <pre>{s.error.stack}</pre> : null}
          </div>
        ) : null}
        <section aria-label="Step scores" data-testid="step-scores">
          <h3>Scores</h3>
          <ScoreList scores={own} label={`Scores of ${s.name}`} />
          <AddScore target={{ stepId }} runId={runId} what={`step ${s.name}`} />
        </section>
        {s.reasoning ? (
          <>
            <h3>Reasoning</h3>
            <p style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{s.reasoning}</p>
          </>
        ) : null}
        <h3>Input</h3>
        <JsonBlock value={s.input} name={`${s.name}-input`} />
        <h3>Output</h3>
        <JsonBlock value={s.output} name={`${s.name}-output`} />
        <details>
          <summary>Metadata</summary>
          <JsonBlock value={s.metadata} name={`${s.name}-metadata`} />
        </details>
        {s.candidatesIn > 0 || s.candidatesStored > 0 ? (
          <>
            {sampled ? (
              <p className="notice" data-testid="sample-notice">
                This step stored{' '}
                {s.candidatesStored === 0 ? 'no candidates' : `a sample: ${fmtInt(s.candidatesStored)} of ${fmtInt(s.candidatesIn)} candidates`}
                {xray?.capture ? ` (capture: ${xray.capture})` : ''}. Exact totals: {fmtInt(s.candidatesIn)} in, {fmtInt(s.candidatesOut)} out,{' '}
                {fmtInt(s.candidatesIn - s.candidatesOut)} eliminated. The histogram and table below show what was stored.
              </p>
            ) : null}
            {s.candidatesStored > 0 ? (
              <Candidates stepId={stepId} runId={runId} decision={decision} reason={reason} exactReasons={sampled ? xray?.reasons : undefined} />
            ) : null}
          </>
        ) : null}
      </div>
    </>
  );
}

function Candidates({
  stepId,
  runId,
  decision,
  reason,
  exactReasons,
}: {
  stepId: string;
  runId: string;
  decision?: string;
  reason?: string;
  exactReasons?: Record<string, number>;
}) {
  const navigate = useNavigate({ from: '/runs/$runId' });
  const setFilter = (patch: { decision?: string; reason?: string }) =>
    void navigate({ to: '/runs/$runId', params: { runId }, search: (prev) => ({ ...prev, ...patch }) });
  const scores = useRunScores(runId).data?.candidates;
  const summary = useQuery({ queryKey: ['summary', stepId], queryFn: () => call(sdk.getCandidateSummary({ client: api, path: { stepId } })) });
  const dec = DECISIONS.find((d) => d === decision);
  const list = useInfiniteQuery({
    queryKey: ['candidates', stepId, dec ?? '', reason ?? ''],
    queryFn: async ({ pageParam }) =>
      call(sdk.listCandidates({ client: api, path: { stepId }, query: { decision: dec, reason, limit: 500, cursor: pageParam ?? undefined } })),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const items = (list.data?.pages.flatMap((p) => p.items) ?? []) as Candidate[];
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: items.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 26,
    overscan: 15,
    getItemKey: (i) => items[i].key,
  });
  const virtualItems = virtual.getVirtualItems();
  const last = virtualItems[virtualItems.length - 1];
  useEffect(() => {
    if (last && last.index >= items.length - 60 && list.hasNextPage && !list.isFetchingNextPage) void list.fetchNextPage();
  }, [last?.index, items.length, list.hasNextPage, list.isFetchingNextPage]);

  const reasons = summary.data?.reasons ?? [];
  const maxReason = Math.max(1, ...reasons.map((r) => r.count));
  return (
    <>
      <h3>Decisions</h3>
      {summary.data ? (
        <p className="row" data-testid="decision-counts">
          {DECISIONS.map((d) => (
            <button key={d} type="button" aria-pressed={dec === d} onClick={() => setFilter({ decision: dec === d ? undefined : d })}>
              <DecisionBadge decision={d} /> {fmtInt(summary.data.byDecision[d])}
            </button>
          ))}
          <span className="muted">of {fmtInt(summary.data.total)} stored</span>
        </p>
      ) : summary.error ? (
        <ErrorBox error={summary.error} />
      ) : null}
      {reasons.length ? (
        <>
          <h3>Rejection reasons</h3>
          <div className="hist" data-testid="reason-histogram" role="list">
            {reasons.slice(0, 20).map((r) => (
              <div className="hist-row" key={r.reason} role="listitem">
                <button
                  type="button"
                  title={r.reason}
                  onClick={() => setFilter({ reason: reason === r.reason ? undefined : r.reason, decision: undefined })}
                  aria-pressed={reason === r.reason}
                >
                  {r.reason}
                </button>
                <span className="bar" style={{ width: `${(r.count / maxReason) * 100}%` }} />
                <span className="counts">
                  {fmtInt(r.count)}
                  {exactReasons?.[r.reason] !== undefined ? ` / ${fmtInt(exactReasons[r.reason])}` : ''}
                </span>
              </div>
            ))}
            {exactReasons ? <p className="muted">stored / exact count of the whole list</p> : null}
          </div>
        </>
      ) : null}
      <h3>
        Candidates{dec ? `: ${dec}` : ''}
        {reason ? ` with reason “${reason}”` : ''}
        {dec || reason ? (
          <>
            {' '}
            <button type="button" onClick={() => setFilter({ decision: undefined, reason: undefined })}>
              Clear filter
            </button>
          </>
        ) : null}
      </h3>
      {list.error ? <ErrorBox error={list.error} /> : null}
      <div className="cands" ref={scrollRef} data-testid="candidates" role="table" aria-label="Candidates" aria-rowcount={items.length}>
        <div className="cand-head" role="row">
          <span role="columnheader">
            <span className="sr-only">Expand</span>
          </span>
          <span role="columnheader">Key</span>
          <span role="columnheader">Decision</span>
          <span role="columnheader">Score</span>
          <span role="columnheader">Rank</span>
          <span role="columnheader">Reason / failed checks</span>
          <span role="columnheader">Scores</span>
        </div>
        {list.isPending ? <Loading what="Loading candidates" /> : null}
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtualItems.map((v) => {
            const c = items[v.index];
            const isOpen = open.has(c.key);
            const failed = checksOf(c.evaluations).filter((e) => !e.passed);
            return (
              <div
                key={v.key}
                ref={virtual.measureElement}
                data-index={v.index}
                className="cand-row"
                role="row"
                style={{ transform: `translateY(${v.start}px)` }}
                data-testid="candidate-row"
              >
                <span role="cell">
                  <button
                    type="button"
                    className="twisty"
                    aria-expanded={isOpen}
                    aria-label={`${isOpen ? 'Hide' : 'Show'} details of ${c.key}`}
                    onClick={() =>
                      setOpen((o) => {
                        const n = new Set(o);
                        if (n.has(c.key)) n.delete(c.key);
                        else n.add(c.key);
                        return n;
                      })
                    }
                  >
                    {isOpen ? '▾' : '▸'}
                  </button>
                </span>
                <span role="cell" className="mono" title={c.key}>
                  <Link to="/items" search={{ key: c.key }} aria-label={`Lineage of ${c.key} across runs`}>
                    {c.key}
                  </Link>
                </span>
                <span role="cell">
                  <DecisionBadge decision={c.decision} />
                </span>
                <span role="cell" className="num">
                  {c.score ?? ''}
                </span>
                <span role="cell" className="num">
                  {c.rank ?? ''}
                </span>
                <span role="cell" title={c.reason ?? ''} data-testid="candidate-reason">
                  {c.reason ?? ''}
                  {failed.length ? <span className="check-failed"> {failed.map((f) => f.check).join(', ')}</span> : null}
                </span>
                <span role="cell" data-testid="candidate-scores">
                  <ScoreBadges scores={scores?.get(candidateKey(stepId, c.key))} max={2} />
                </span>
                {isOpen ? <CandidateDetail stepId={stepId} runId={runId} c={c} /> : null}
              </div>
            );
          })}
        </div>
      </div>
      <p className="muted">
        {fmtInt(items.length)} loaded{list.hasNextPage ? ' (more load as you scroll)' : ''}.
      </p>
    </>
  );
}

function CandidateDetail({ stepId, runId, c }: { stepId: string; runId: string; c: Candidate }) {
  const scores = useRunScores(runId).data?.candidates.get(candidateKey(stepId, c.key)) ?? [];
  const needsFull = (c.truncated ?? []).length > 0;
  const full = useQuery({
    queryKey: ['candidate', stepId, c.key],
    enabled: needsFull,
    queryFn: () => call(sdk.getCandidate({ client: api, path: { stepId, key: c.key } })),
  });
  const shown = needsFull ? full.data : c;
  const checks = checksOf(shown?.evaluations);
  return (
    <div className="cand-detail" role="cell">
      {checks.length ? (
        <ul style={{ margin: '0 0 6px', paddingLeft: 18 }}>
          {checks.map((e, i) => (
            <li key={i} className={e.passed ? 'check-passed' : 'check-failed'}>
              {e.passed ? '✓' : '✗'} {e.check}
              {e.detail ? <span className="muted"> — {e.detail}</span> : null}
            </li>
          ))}
        </ul>
      ) : shown ? (
        <p className="muted">No evaluations recorded.</p>
      ) : null}
      {needsFull && full.isPending ? <Loading what="Loading data" /> : null}
      {full.error ? <ErrorBox error={full.error} /> : null}
      {shown ? <JsonBlock value={shown.data} name={`candidate-${c.key}`} /> : null}
      <div data-testid="candidate-score-detail">
        <b>Scores of {c.key}</b>
        <ScoreList scores={scores} label={`Scores of candidate ${c.key}`} />
        <AddScore target={{ stepId, key: c.key }} runId={runId} what={`candidate ${c.key}`} />
      </div>
    </div>
  );
}
