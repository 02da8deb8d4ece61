import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CANDIDATE_PREVIEW_FIELDS } from '../candidates/candidates.dto.js';
import type { TimeIdCursor } from '../common/cursor.js';
import { previewColumn } from '../common/preview.js';
import type { Queryable } from '../database/queryable.js';
import { query, type Sql, sql } from '../database/sql.js';
import type { Decision, RunStatus, StepType } from '../domain/vocabulary.js';
import { type ScoreCondition, scoreFilterSql } from '../scores/score-filter.js';
import { STEP_PREVIEW_FIELDS } from '../steps/steps.dto.js';
import { LLM_COLUMN_NAMES, type StepRow } from '../steps/steps.repository.js';
import type { RollupSpans } from './rollup-range.js';

/*
 * The SQL of cross-run questions. These are reads only: they join runs, steps, candidates and
 * the rollups those modules' triggers keep, which a query file may do; nothing here writes.
 *
 * JSON columns are read as bounded previews (common/preview.ts). The preview length is bound
 * once, as the column `preview.chars` of a one-row derived table that PostgreSQL folds into the
 * statement, so the select list stays text written in our code.
 */

/** Filters of a step search; each one present narrows it. */
export interface StepSearchFilter {
  name?: string;
  type?: StepType;
  status?: RunStatus;
  pipeline?: string;
  model?: string;
  minEliminationRatio?: number;
  maxEliminationRatio?: number;
  minDurationMs?: number;
  /** Conditions on the step's own scores. */
  scores?: ScoreCondition[];
  from?: Date;
  to?: Date;
}

export interface StepSearchRow extends Pick<StepRow, (typeof LLM_COLUMN_NAMES)[number]> {
  id: string;
  run_id: string;
  pipeline: string;
  parent_step_id: string | null;
  name: string;
  type: string;
  status: string;
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number | null;
  candidates_in: number;
  candidates_out: number;
  elimination_ratio: number | null;
  input: unknown;
  output: unknown;
  metadata: Record<string, unknown> | string;
}

/** Filters of one item's evaluations across runs. */
export interface EvaluationFilter {
  key: string;
  pipeline?: string;
  decision?: Decision;
  from?: Date;
  to?: Date;
}

export interface EvaluationRow {
  run_id: string;
  run_started_at: Date;
  step_id: string;
  step_name: string;
  pipeline: string;
  key: string;
  decision: string;
  reason: string | null;
  score: number | null;
  rank: number | null;
  evaluations: unknown;
  data: unknown;
  created_at: Date;
}

/** The pipeline whose analytics are read (LLM analytics: every pipeline when absent). */
export interface PipelineRange {
  projectId: string;
  pipeline: string;
}
export interface LlmRange {
  projectId: string;
  pipeline?: string;
}

/** One group of the LLM usage rollup (see llmUsage); sums as PostgreSQL's text of them. */
export interface LlmUsageRow {
  grouping: 'time' | 'pipeline' | 'step' | 'model';
  start: Date | null;
  pipeline: string | null;
  name: string | null;
  model: string | null;
  calls: number;
  input_tokens: string;
  output_tokens: string;
  total_tokens: string;
  cache_read_tokens: string;
  cost_usd: string;
}

/** The fragment for a filter that is present; none for one that is not. */
const when = <T>(value: T | undefined, clause: (value: T) => Sql): Sql[] => (value === undefined ? [] : [clause(value)]);

const previewColumns = (fields: readonly string[], tableAlias: string): Sql =>
  sql.raw(fields.map((f) => previewColumn(`${tableAlias}${f}`, f, 'preview.chars')).join(',\n              '));

@Injectable()
export class AnalyticsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Steps across runs matching the filter, newest first, after the cursor; `limit` rows at most. */
  async searchSteps(
    projectId: string,
    filter: StepSearchFilter,
    after: TimeIdCursor | undefined,
    limit: number,
    previewChars: number,
    db: Queryable = this.dataSource,
  ): Promise<StepSearchRow[]> {
    const where = [
      sql`project_id = ${projectId}`,
      ...when(filter.name, (v) => sql`name = ${v}`),
      ...when(filter.type, (v) => sql`type = ${v}`),
      ...when(filter.status, (v) => sql`status = ${v}`),
      ...when(filter.pipeline, (v) => sql`pipeline = ${v}`),
      ...when(filter.model, (v) => sql`model = ${v}`),
      ...when(filter.minEliminationRatio, (v) => sql`elimination_ratio >= ${v}`),
      ...when(filter.maxEliminationRatio, (v) => sql`elimination_ratio <= ${v}`),
      ...when(filter.minDurationMs, (v) => sql`duration_ms >= ${v}`),
      ...(filter.scores ? scoreFilterSql(filter.scores, 'step', { project: 'steps.project_id', id: 'steps.id', runStartedAt: 'steps.run_started_at' }) : []),
      ...when(filter.from, (v) => sql`started_at >= ${v}`),
      ...when(filter.to, (v) => sql`started_at < ${v}`),
      ...when(after, (c) => sql`(started_at, id) < (${c.at}, ${c.id}::uuid)`),
    ];
    return query<StepSearchRow>(
      db,
      sql`SELECT id, run_id, pipeline, parent_step_id, name, type, status, started_at, ended_at, duration_ms,
              candidates_in, candidates_out, elimination_ratio, ${sql.raw(LLM_COLUMN_NAMES.join(', '))},
              ${previewColumns(STEP_PREVIEW_FIELDS, '')}
          FROM steps CROSS JOIN (SELECT ${previewChars}::int AS chars) preview
          WHERE ${sql.join(where, ' AND ')} ORDER BY started_at DESC, id DESC LIMIT ${limit}`,
    );
  }

  /** Every evaluation of one item (newest first, before the position `before`); `limit` rows at most. */
  async searchEvaluations(
    projectId: string,
    filter: EvaluationFilter,
    before: TimeIdCursor | undefined,
    limit: number,
    previewChars: number,
    db: Queryable = this.dataSource,
  ): Promise<EvaluationRow[]> {
    const where = [
      sql`c.project_id = ${projectId}`,
      sql`c.key = ${filter.key}`,
      ...when(filter.pipeline, (v) => sql`s.pipeline = ${v}`),
      ...when(filter.decision, (v) => sql`c.decision = ${v}`),
      ...when(filter.from, (v) => sql`c.created_at >= ${v}`),
      ...when(filter.to, (v) => sql`c.created_at < ${v}`),
      ...when(before, (pos) => sql`(c.created_at, c.step_id) < (${pos.at}, ${pos.id}::uuid)`),
    ];
    return query<EvaluationRow>(
      db,
      sql`SELECT c.run_id, c.run_started_at, c.step_id, s.name AS step_name, s.pipeline, c.key, c.decision, c.reason, c.score, c.rank,
              c.created_at, ${previewColumns(CANDIDATE_PREVIEW_FIELDS, 'c.')}
          FROM candidates c
          -- Each row's step from its own partition (a join would plan a scan of every partition's steps).
          CROSS JOIN LATERAL (
            SELECT s.name, s.pipeline FROM steps s
            WHERE s.project_id = c.project_id AND s.id = c.step_id AND s.run_id = c.run_id AND s.run_started_at = c.run_started_at
            OFFSET 0 -- kept a subquery: not pulled up into a join
          ) s
          CROSS JOIN (SELECT ${previewChars}::int AS chars) preview
          WHERE ${sql.join(where, ' AND ')} ORDER BY c.created_at DESC, c.step_id DESC LIMIT ${limit}`,
    );
  }

  /*
   * Pipeline analytics read the rollups the writers keep (database/rollups.ts): whole
   * UTC days from the daily tables, the hours around them from the hourly ones, so the cost
   * follows the days in the range, not the runs, steps or candidates in it.
   */

  /**
   * Runs by time bucket and status: whole hours (and days) from the run rollups, the partial
   * hours at the range's edges (`rawHead`, `rawTail`) from the runs table, so counts are exact.
   */
  async countRunsByBucket(
    p: PipelineRange,
    bucket: 'hour' | 'day',
    runs: { spans: RollupSpans; rawHead: [Date, Date]; rawTail: [Date, Date] },
    db: Queryable = this.dataSource,
  ): Promise<{ start: Date; status: string; n: number }[]> {
    const rawRuns = ([a, b]: [Date, Date]) =>
      sql`SELECT started_at AS t, status, 1 AS count FROM runs
          WHERE project_id = ${p.projectId} AND pipeline = ${p.pipeline} AND started_at >= ${a} AND started_at < ${b}`;
    return query(
      db,
      sql`SELECT date_trunc(${bucket}, t, 'UTC') AS start, status, sum(count)::int AS n FROM (
            ${rollupUnion('run_stats', 'status, count', runs.spans, p)}
            UNION ALL ${rawRuns(runs.rawHead)}
            UNION ALL ${rawRuns(runs.rawTail)}
          ) r GROUP BY 1, 2 HAVING sum(count) > 0`,
    );
  }

  /** Per step name: steps, failed, finished and the elimination ratios' sum and count; most frequent first. */
  async stepStats(
    p: PipelineRange,
    spans: RollupSpans,
    db: Queryable = this.dataSource,
  ): Promise<{ name: string; count: number; failed: number; finished: number; ratio_sum: number; ratio_n: number }[]> {
    return query(
      db,
      sql`SELECT name, sum(steps)::int AS count, sum(failed)::int AS failed, sum(finished)::int AS finished,
                 sum(ratio_sum) AS ratio_sum, sum(ratio_n)::int AS ratio_n
          FROM (${rollupUnion('step_stats', 'name, steps, failed, finished, ratio_sum, ratio_n', spans, p)}) r
          GROUP BY name HAVING sum(steps) > 0 ORDER BY sum(steps) DESC, name LIMIT 200`,
    );
  }

  /** The ten most frequent rejection reasons of each step name. */
  async topRejectionReasons(
    p: PipelineRange,
    spans: RollupSpans,
    db: Queryable = this.dataSource,
  ): Promise<{ step_name: string; reason: string; n: number }[]> {
    return query(
      db,
      sql`SELECT step_name, reason, n FROM (
            SELECT name AS step_name, reason, sum(count)::int AS n,
                   row_number() OVER (PARTITION BY name ORDER BY sum(count) DESC, reason) AS rk
            FROM (${rollupUnion('reason_counts', 'name, reason, count', spans, p)}) r
            GROUP BY name, reason HAVING sum(count) > 0
          ) ranked WHERE rk <= 10 ORDER BY step_name, n DESC, reason`,
    );
  }

  /** LLM usage of the range, grouped four ways (llmUsageQuery). */
  llmUsage(p: LlmRange, bucket: 'hour' | 'day', spans: RollupSpans, db: Queryable = this.dataSource): Promise<LlmUsageRow[]> {
    return query<LlmUsageRow>(db, llmUsageQuery(p, bucket, spans));
  }

  /** Per model, its calls' duration histogram. */
  modelDurationHistograms(p: LlmRange, spans: RollupSpans, db: Queryable = this.dataSource): Promise<{ model: string; bucket: number; n: number }[]> {
    return query(db, modelDurationsQuery(p, spans));
  }

  /** Per step name, the duration histogram (buckets ascending; see percentileFromBuckets). */
  async stepDurationHistograms(p: PipelineRange, spans: RollupSpans, db: Queryable = this.dataSource): Promise<{ name: string; bucket: number; n: number }[]> {
    return query(
      db,
      sql`SELECT name, bucket, sum(count)::int AS n
          FROM (${rollupUnion('step_durations', 'name, bucket, count', spans, p)}) r
          GROUP BY name, bucket HAVING sum(count) > 0 ORDER BY name, bucket`,
    );
  }
}

/**
 * LLM calls, tokens and cost from the llm_usage rollups, in one pass grouped four ways: by time
 * bucket, by pipeline, by pipeline and step name, and by model (`grouping` says which).
 */
export function llmUsageQuery(p: LlmRange, bucket: 'hour' | 'day', spans: RollupSpans): Sql {
  return sql`SELECT CASE WHEN GROUPING(start) = 0 THEN 'time' WHEN GROUPING(model) = 0 THEN 'model' WHEN GROUPING(name) = 0 THEN 'step' ELSE 'pipeline' END AS grouping,
            start, pipeline, name, model, sum(calls)::int AS calls, sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens,
            sum(total_tokens)::text AS total_tokens, sum(cache_read_tokens)::text AS cache_read_tokens, sum(cost_usd)::text AS cost_usd
     FROM (SELECT date_trunc(${bucket}, t, 'UTC') AS start, * FROM (
       ${rollupUnion('llm_usage', 'pipeline, name, model, calls, input_tokens, output_tokens, total_tokens, cache_read_tokens, cost_usd', spans, p)}
     ) u) r
     GROUP BY GROUPING SETS ((start), (pipeline), (pipeline, name), (model))
     HAVING sum(calls) <> 0 OR sum(total_tokens) <> 0 OR sum(cost_usd) <> 0`;
}

/** Per model, the duration histogram of its calls (buckets ascending; see percentileFromBuckets). */
export function modelDurationsQuery(p: LlmRange, spans: RollupSpans): Sql {
  return sql`SELECT model, bucket, sum(count)::int AS n
     FROM (${rollupUnion('model_durations', 'model, bucket, count', spans, p)}) r
     GROUP BY model, bucket HAVING sum(count) > 0 ORDER BY model, bucket`;
}

/**
 * A UNION ALL over a rollup's daily and hourly tables for the spans, selecting `columns` and
 * the span's time as `t`. `table` and `columns` are names from this file, never from a request.
 */
function rollupUnion(
  table: 'run_stats' | 'step_stats' | 'reason_counts' | 'step_durations' | 'llm_usage' | 'model_durations',
  columns: string,
  spans: RollupSpans,
  p: LlmRange,
): Sql {
  const cols = sql.raw(columns);
  const ofPipeline = p.pipeline === undefined ? sql`` : sql`AND pipeline = ${p.pipeline}`;
  const hourly = ([a, b]: [Date, Date]) =>
    sql`SELECT hour AS t, ${cols} FROM ${sql.raw(`${table}_hourly`)}
        WHERE project_id = ${p.projectId} ${ofPipeline} AND hour >= ${a} AND hour < ${b}`;
  const [d0, d1] = spans.days;
  return sql.join(
    [
      sql`SELECT day AS t, ${cols} FROM ${sql.raw(`${table}_daily`)}
          WHERE project_id = ${p.projectId} ${ofPipeline} AND day >= ${d0} AND day < ${d1}`,
      hourly(spans.headHours),
      hourly(spans.tailHours),
    ],
    '\n UNION ALL ',
  );
}
