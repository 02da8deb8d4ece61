import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useCallback, useMemo } from 'react';
import uPlot from 'uplot';
import { api, call } from '../api/client.js';
import { usePipelines } from '../api/queries.js';
import * as sdk from '../api/sdk.js';
import type { LlmTimePointDto, TimePointDto } from '../api/sdk.js';
import { ErrorBox, Loading } from '../components/common.js';
import { RangePicker } from '../components/RangePicker.js';
import { themeAxis, UplotChart, type ThemeColor, type UplotPlot } from '../components/UplotChart.js';
import { fmtDuration, fmtPct, fmtTime, fmtTokens, fmtUsd, rangeBounds } from '../lib/format.js';
import { fmtInt } from '../lib/funnel.js';
import { labelsByCount, scoreSeriesOf, type ScoreSeries } from '../lib/scores.js';

const route = getRouteApi('/analytics/$pipeline');

export function AnalyticsIndex() {
  const pipelines = usePipelines();
  return (
    <div>
      <h1>Analytics</h1>
      <p className="muted">Pick a pipeline.</p>
      {pipelines.error ? <ErrorBox error={pipelines.error} /> : null}
      {pipelines.isPending ? <Loading /> : null}
      <ul>
        {pipelines.data?.map((p) => (
          <li key={p.name}>
            <Link to="/analytics/$pipeline" params={{ pipeline: p.name }}>
              {p.name}
            </Link>{' '}
            <span className="muted">
              {fmtInt(p.runCount)} runs, last {fmtTime(p.lastRunAt)}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

export default function AnalyticsView() {
  const { pipeline } = route.useParams();
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/analytics/$pipeline' });
  const range = search.range ?? (search.from || search.to ? undefined : '7d');
  const a = useQuery({
    queryKey: ['analytics', pipeline, range ?? '', search.from ?? '', search.to ?? ''],
    queryFn: () => call(sdk.getPipelineAnalytics({ client: api, path: { pipeline }, query: rangeBounds(range, search.from, search.to) })),
  });
  const scoreSeries = useMemo(() => scoreSeriesOf(a.data), [a.data]);
  return (
    <div>
      <h1>Analytics: {pipeline}</h1>
      <div className="filters">
        <RangePicker idPrefix="an" range={range} from={search.from} to={search.to} onChange={(v) => void navigate({ search: v })} />
        <Link to="/runs" search={{ pipeline }}>
          Runs of this pipeline
        </Link>
      </div>
      {a.error ? <ErrorBox error={a.error} /> : null}
      {a.isPending ? <Loading what="Loading analytics" /> : null}
      {a.data ? (
        <>
          <div className="cards" data-testid="analytics-cards">
            <div className="card">
              Runs<b>{fmtInt(a.data.runs.total)}</b>
            </div>
            {(['success', 'error', 'running', 'timed_out', 'cancelled'] as const).map((s) => (
              <div className="card" key={s}>
                {s.replace('_', ' ')}
                <b>{fmtInt(a.data.runs.byStatus[s])}</b>
              </div>
            ))}
            <div className="card">
              Error rate<b>{fmtPct(a.data.runs.errorRate, 1)}</b>
            </div>
          </div>
          <h2>Runs over time (by {a.data.timeSeries.bucket})</h2>
          <RunsChart points={a.data.timeSeries.points} />
          <ScoresSection series={scoreSeries} bucket={a.data.timeSeries.bucket} />
          <h2>Steps</h2>
          <table className="grid" aria-label="Step statistics" data-testid="step-stats">
            <thead>
              <tr>
                <th>Step</th>
                <th className="num">Count</th>
                <th className="num">Error rate</th>
                <th className="num">p50</th>
                <th className="num">p95</th>
                <th className="num">Mean elimination</th>
              </tr>
            </thead>
            <tbody>
              {a.data.steps.map((s) => (
                <tr key={s.name}>
                  <td>
                    <Link to="/steps" search={{ name: s.name, pipeline }}>
                      {s.name}
                    </Link>
                  </td>
                  <td className="num">{fmtInt(s.count)}</td>
                  <td className="num">{fmtPct(s.errorRate, 1)}</td>
                  <td className="num">{fmtDuration(s.p50DurationMs)}</td>
                  <td className="num">{fmtDuration(s.p95DurationMs)}</td>
                  <td className="num">
                    {s.meanEliminationRatio == null ? (
                      '—'
                    ) : (
                      <span className="row" style={{ justifyContent: 'flex-end' }}>
                        <span className="hist-row" style={{ display: 'inline-block', width: 80 }}>
                          <span className="bar" style={{ display: 'block', width: `${s.meanEliminationRatio * 100}%` }} />
                        </span>
                        {fmtPct(s.meanEliminationRatio, 1)}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <LlmSection pipeline={pipeline} bounds={rangeBounds(range, search.from, search.to)} cacheKey={[range ?? '', search.from ?? '', search.to ?? '']} />
          <h2>Top rejection reasons</h2>
          {a.data.topRejectionReasons.length === 0 ? <p className="muted">No rejections in this range.</p> : null}
          {a.data.topRejectionReasons.map((s) => {
            const max = Math.max(1, ...s.reasons.map((r) => r.count));
            return (
              <section key={s.stepName} aria-label={`Rejection reasons of ${s.stepName}`}>
                <h3>{s.stepName}</h3>
                <div className="hist">
                  {s.reasons.map((r) => (
                    <div className="hist-row" key={r.reason}>
                      <span title={r.reason} style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
                        {r.reason}
                      </span>
                      <span className="bar" style={{ width: `${(r.count / max) * 100}%` }} />
                      <span className="counts">{fmtInt(r.count)}</span>
                    </div>
                  ))}
                </div>
              </section>
            );
          })}
        </>
      ) : null}
    </div>
  );
}

/**
 * LLM calls of the pipeline: totals, cost and tokens over time, per model (with p50/p95
 * latency) and per step name, from `GET /v1/analytics/llm`.
 */
function LlmSection({ pipeline, bounds, cacheKey }: { pipeline: string; bounds: { from?: string; to?: string }; cacheKey: string[] }) {
  const llm = useQuery({
    queryKey: ['llm-analytics', pipeline, ...cacheKey],
    queryFn: () => call(sdk.getLlmAnalytics({ client: api, query: { pipeline, ...bounds } })),
  });
  if (llm.error) return <ErrorBox error={llm.error} />;
  if (!llm.data) return <Loading what="Loading LLM usage" />;
  const d = llm.data;
  return (
    <section aria-label="LLM usage" data-testid="llm-usage">
      <h2>LLM calls, tokens and cost</h2>
      {d.totals.calls === 0 ? (
        <p className="muted">No LLM steps (steps with a model, token usage or a cost) in this range.</p>
      ) : (
        <>
          <div className="cards" data-testid="llm-cards">
            <div className="card">
              LLM calls<b>{fmtInt(d.totals.calls)}</b>
            </div>
            <div className="card">
              Tokens<b data-testid="llm-total-tokens">{fmtTokens(d.totals.totalTokens)}</b>
            </div>
            <div className="card">
              Input / output<b>{`${fmtTokens(d.totals.inputTokens)} / ${fmtTokens(d.totals.outputTokens)}`}</b>
            </div>
            <div className="card">
              Cost<b data-testid="llm-total-cost">{fmtUsd(d.totals.costUsd)}</b>
            </div>
          </div>
          <h3>Cost over time (by {d.bucket})</h3>
          <CostChart points={d.timeSeries} />
          <h3>Per model</h3>
          <table className="grid" aria-label="LLM usage per model" data-testid="llm-models">
            <thead>
              <tr>
                <th>Model</th>
                <th className="num">Calls</th>
                <th className="num">Input tokens</th>
                <th className="num">Output tokens</th>
                <th className="num">Cost</th>
                <th className="num">p50</th>
                <th className="num">p95</th>
              </tr>
            </thead>
            <tbody>
              {d.byModel.map((m) => (
                <tr key={m.model}>
                  <td>{m.model || <span className="muted">(no model)</span>}</td>
                  <td className="num">{fmtInt(m.calls)}</td>
                  <td className="num">{fmtTokens(m.inputTokens)}</td>
                  <td className="num">{fmtTokens(m.outputTokens)}</td>
                  <td className="num">{fmtUsd(m.costUsd)}</td>
                  <td className="num">{fmtDuration(m.p50DurationMs)}</td>
                  <td className="num">{fmtDuration(m.p95DurationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Per step</h3>
          <table className="grid" aria-label="LLM usage per step" data-testid="llm-steps">
            <thead>
              <tr>
                <th>Step</th>
                <th className="num">Calls</th>
                <th className="num">Tokens</th>
                <th className="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {d.byStep.map((st) => (
                <tr key={`${st.pipeline}/${st.name}`}>
                  <td>{st.name}</td>
                  <td className="num">{fmtInt(st.calls)}</td>
                  <td className="num">{fmtTokens(st.totalTokens)}</td>
                  <td className="num">{fmtUsd(st.costUsd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** Cost per bucket as bars (uPlot, canvas), with the tokens in the legend. */
function CostChart({ points }: { points: LlmTimePointDto[] }) {
  const draw = useCallback(
    (color: ThemeColor): UplotPlot | null => {
      if (!points.length) return null;
      return {
        options: {
          scales: { y: { range: (_u, _min, max) => [0, Math.max(0.000001, max)] } },
          axes: [themeAxis(color), { ...themeAxis(color), values: (_u, vs) => vs.map((v) => fmtUsd(v)) }],
          series: [
            {},
            {
              label: 'cost',
              stroke: color('--run'),
              fill: color('--run'),
              paths: uPlot.paths.bars!({ size: [0.8, 40] }),
              points: { show: false },
              value: (_u: uPlot, _v: number, _s: number, i: number | null) =>
                i == null ? '--' : `${fmtUsd(points[i].costUsd)} · ${fmtTokens(points[i].totalTokens)} tokens`,
            },
          ],
        },
        data: [points.map((p) => Date.parse(p.start) / 1000), points.map((p) => p.costUsd)],
      };
    },
    [points],
  );
  return <UplotChart height={180} draw={draw} label={`Cost per bucket: ${fmtUsd(points.reduce((n, p) => n + p.costUsd, 0))} in all`} testId="llm-cost-chart" />;
}

type RunStatusName = keyof TimePointDto['byStatus'];

/** Runs per bucket stacked by status (successes below, errors on top); uPlot draws canvas, sized to its box. */
function RunsChart({ points }: { points: TimePointDto[] }) {
  const draw = useCallback(
    (color: ThemeColor): UplotPlot => {
      const xs = points.map((p) => Date.parse(p.start) / 1000);
      // Stacked bottom to top: success, running, cancelled, timed_out, error. uPlot draws each
      // series as the running total up to it, tallest first, so each band shows one status.
      const stack: [RunStatusName, string][] = [
        ['success', '--ok'],
        ['running', '--run'],
        ['cancelled', '--fg-soft'],
        ['timed_out', '--warn'],
        ['error', '--err'],
      ];
      const cumulative = stack.map((_, level) => points.map((p) => stack.slice(0, level + 1).reduce((n, [status]) => n + p.byStatus[status], 0)));
      const bars = uPlot.paths.bars!({ size: [0.8, 40] });
      return {
        options: {
          scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
          axes: [themeAxis(color), themeAxis(color)],
          series: [
            {},
            ...[...stack].reverse().map(([status, variable]) => ({
              label: status,
              stroke: color(variable),
              fill: color(variable),
              paths: bars,
              points: { show: false },
              // The legend shows the status's own count, not the running total drawn.
              value: (_u: uPlot, _v: number, _s: number, i: number | null) => (i == null ? '--' : String(points[i].byStatus[status])),
            })),
          ],
        },
        data: [xs, ...[...cumulative].reverse()],
      };
    },
    [points],
  );
  if (!points.length) return <p className="muted">No runs in this range.</p>;
  return (
    <UplotChart
      height={220}
      draw={draw}
      label={`Runs per bucket: ${fmtInt(points.reduce((n, p) => n + p.runs, 0))} runs, ${fmtInt(points.reduce((n, p) => n + p.errors, 0))} errors`}
      testId="runs-chart"
    />
  );
}

/** Each score name of the pipeline over time: the mean of numbers and booleans, label counts of labels. */
function ScoresSection({ series, bucket }: { series: ScoreSeries[]; bucket: string }) {
  if (!series.length) return null;
  return (
    <section aria-label="Scores over time" data-testid="score-series">
      <h2>Scores over time (by {bucket})</h2>
      {series.map((s) => (
        <div key={s.name} data-testid="score-chart-block" data-score-name={s.name}>
          <h3>
            {s.name}{' '}
            <span className="muted">
              {s.dataType} · {fmtInt(s.count)} score{s.count === 1 ? '' : 's'}
              {s.mean != null ? ` · mean ${s.dataType === 'boolean' ? fmtPct(s.mean, 1) + ' true' : s.mean.toFixed(3)}` : ''}
            </span>
          </h3>
          <ScoreChart series={s} />
        </div>
      ))}
    </section>
  );
}

function ScoreChart({ series }: { series: ScoreSeries }) {
  const labels = useMemo(() => (series.dataType === 'categorical' ? labelsByCount(series).slice(0, 8) : []), [series]);
  const draw = useCallback(
    (color: ThemeColor): UplotPlot => {
      const palette = ['--accent', '--ok', '--err', '--warn', '--run', '--fg-soft'].map(color);
      const xs = series.points.map((p) => Date.parse(p.start) / 1000);
      const axes = [themeAxis(color), themeAxis(color)];
      if (series.dataType === 'categorical') {
        // Stacked bars, most frequent label at the bottom; the legend shows each label's own count.
        const cumulative = labels.map((_, level) => series.points.map((p) => labels.slice(0, level + 1).reduce((n, l) => n + (p.labels[l.label] ?? 0), 0)));
        const bars = uPlot.paths.bars!({ size: [0.8, 40] });
        return {
          options: {
            scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
            axes,
            series: [
              {},
              ...[...labels].reverse().map((l, i) => ({
                label: l.label,
                stroke: palette[(labels.length - 1 - i) % palette.length],
                fill: palette[(labels.length - 1 - i) % palette.length],
                paths: bars,
                points: { show: false },
                value: (_u: uPlot, _v: number, _s: number, idx: number | null) => (idx == null ? '--' : String(series.points[idx].labels[l.label] ?? 0)),
              })),
            ],
          },
          data: [xs, ...[...cumulative].reverse()],
        };
      }
      return {
        options: {
          scales: series.dataType === 'boolean' ? { y: { range: [0, 1] } } : {},
          axes,
          series: [{}, { label: series.dataType === 'boolean' ? 'share true' : 'mean', stroke: palette[0], width: 2, spanGaps: true }],
        },
        data: [xs, series.points.map((p) => p.mean)],
      };
    },
    [series, labels],
  );
  if (!series.points.length) return <p className="muted">No scores of this name in this range.</p>;
  const summary =
    series.dataType === 'categorical'
      ? labels.map((l) => `${l.label} ${l.count}`).join(', ')
      : `mean per ${series.points.length} bucket(s), overall ${series.mean == null ? 'none' : series.mean.toFixed(3)}`;
  return <UplotChart height={180} draw={draw} label={`Score ${series.name}: ${summary}`} testId="score-chart" />;
}
