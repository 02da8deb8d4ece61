import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useMemo, useState } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { ErrorBox, Loading, StatusBadge } from '../components/common.js';
import { useListKeys } from '../components/keys.js';
import { alignSteps, listFlips, type SideStep } from '../lib/diff.js';
import { fmtDuration, fmtPct, fmtTime } from '../lib/format.js';
import { fmtInt } from '../lib/funnel.js';

const route = getRouteApi('/compare/$runA/$runB');

export function CompareView() {
  const { runA, runB } = route.useParams();
  const cmp = useQuery({ queryKey: ['compare', runA, runB], queryFn: () => call(sdk.compareRuns({ client: api, path: { id: runA, otherId: runB } })) });
  const rows = useMemo(() => (cmp.data ? alignSteps(cmp.data.steps) : []), [cmp.data]);
  const flips = useMemo(() => (cmp.data ? listFlips(cmp.data.steps) : []), [cmp.data]);
  const [sel, setSel] = useState(-1);
  useListKeys({ count: rows.length, index: sel, onMove: setSel });
  if (cmp.isPending) return <Loading what="Comparing runs" />;
  if (cmp.error) return <ErrorBox error={cmp.error} />;
  const { left, right } = cmp.data;
  const side = (s: SideStep | null, runId: string, changed: Set<string>) =>
    s ? (
      <>
        <td>
          <Link to="/runs/$runId" params={{ runId }} search={{ step: s.id }}>
            <StatusBadge status={s.status} />
          </Link>
        </td>
        <td className={`num${changed.has('durationMs') ? ' diff-cell-changed' : ''}`}>{fmtDuration(s.durationMs)}</td>
        <td className={`num${changed.has('candidatesIn') || changed.has('candidatesOut') ? ' diff-cell-changed' : ''}`}>
          {s.candidatesIn || s.candidatesOut ? `${fmtInt(s.candidatesIn)} → ${fmtInt(s.candidatesOut)}` : ''}
        </td>
      </>
    ) : (
      <td colSpan={3} className="muted">
        absent
      </td>
    );
  return (
    <div>
      <h1>Compare runs</h1>
      <table className="grid" aria-label="Runs compared" style={{ marginBottom: 12 }}>
        <thead>
          <tr>
            <th>Side</th>
            <th>Run</th>
            <th>Pipeline</th>
            <th>Version</th>
            <th>Status</th>
            <th>Started</th>
            <th className="num">Duration</th>
          </tr>
        </thead>
        <tbody>
          {[
            ['Left', left],
            ['Right', right],
          ].map(([label, r]) => {
            const run = r as typeof left;
            return (
              <tr key={label as string}>
                <td>{label as string}</td>
                <td>
                  <Link to="/runs/$runId" params={{ runId: run.id }} className="mono">
                    {run.id}
                  </Link>
                </td>
                <td>{run.pipeline}</td>
                <td>{run.pipelineVersion ?? '—'}</td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>{fmtTime(run.startedAt)}</td>
                <td className="num">{fmtDuration(run.durationMs)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>Steps, aligned by path</h2>
      <table className="grid" aria-label="Steps compared" data-testid="compare-steps">
        <thead>
          <tr>
            <th>Step</th>
            <th>Left status</th>
            <th className="num">Left duration</th>
            <th className="num">Left in → out</th>
            <th>Right status</th>
            <th className="num">Right duration</th>
            <th className="num">Right in → out</th>
            <th className="num">Flipped</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.key} className={`${r.changed.size || r.kind !== 'both' ? 'diff-changed' : ''}${i === sel ? ' selected' : ''}`} data-testid="compare-row">
              <td style={{ paddingLeft: 8 + r.depth * 14 }}>
                {r.name}
                {r.kind !== 'both' ? <span className="muted"> ({r.kind === 'left-only' ? 'left only' : 'right only'})</span> : null}
              </td>
              {side(r.left, left.id, r.changed)}
              {side(r.right, right.id, r.changed)}
              <td className="num">{r.flips ? fmtInt(r.flips) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Flipped candidates</h2>
      {flips.length === 0 ? (
        <p className="muted">No candidate was kept on one side and rejected on the other.</p>
      ) : (
        <table className="grid" aria-label="Flipped candidates" data-testid="flips">
          <thead>
            <tr>
              <th>Key</th>
              <th>Step</th>
              <th>Kept in</th>
              <th>Rejected in</th>
            </tr>
          </thead>
          <tbody>
            {flips.slice(0, 500).map((f) => (
              <tr key={`${f.step}-${f.key}-${f.direction}`} data-testid="flip-row">
                <td>
                  <Link to="/items" search={{ key: f.key }} className="mono">
                    {f.key}
                  </Link>
                </td>
                <td>{f.step}</td>
                <td>
                  {f.direction === 'kept-left' ? (
                    <Link to="/runs/$runId" params={{ runId: left.id }} search={{ step: f.leftStepId ?? undefined }}>
                      left
                    </Link>
                  ) : (
                    <Link to="/runs/$runId" params={{ runId: right.id }} search={{ step: f.rightStepId ?? undefined }}>
                      right
                    </Link>
                  )}
                </td>
                <td>
                  {f.direction === 'kept-left' ? (
                    <Link to="/runs/$runId" params={{ runId: right.id }} search={{ step: f.rightStepId ?? undefined, decision: 'rejected' }}>
                      right
                    </Link>
                  ) : (
                    <Link to="/runs/$runId" params={{ runId: left.id }} search={{ step: f.leftStepId ?? undefined, decision: 'rejected' }}>
                      left
                    </Link>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cmp.data.steps.some((s) => s.candidates && s.candidates.keptLeftRejectedRight.length < s.candidates.keptLeftRejectedRightCount) ? (
        <p className="notice">Some steps flipped more candidates than listed; the counts in the table above are exact.</p>
      ) : null}
      <p className="muted">
        Elimination ratios:{' '}
        {rows
          .filter((r) => r.changed.has('eliminationRatio'))
          .map((r) => `${r.name} ${fmtPct(r.left?.eliminationRatio)} → ${fmtPct(r.right?.eliminationRatio)}`)
          .join('; ') || 'unchanged'}
        .
      </p>
    </div>
  );
}
