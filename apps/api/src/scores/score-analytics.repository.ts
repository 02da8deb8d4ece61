import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Queryable } from '../database/queryable.js';
import { query, type Sql, sql } from '../database/sql.js';
import type { ScoreTarget } from './score-analytics.dto.js';
import type { ScoreDataType } from './scores.dto.js';

/** Which scores an aggregate reads: a project's, of runs started in [from, to), optionally narrowed. */
export interface ScoreScope {
  projectId: string;
  from: Date;
  to: Date;
  pipeline?: string;
  name?: string;
  target?: ScoreTarget;
  /** Only runs started in these ranges (within [from, to)), instead of all of [from, to). */
  within?: [Date, Date][];
}

export interface ScoreStatRow {
  name: string;
  data_type: ScoreDataType;
  n: number;
  mean: number | null;
  lo: number | null;
  hi: number | null;
}

export interface ScoreBucketRow {
  name: string;
  data_type: ScoreDataType;
  start: Date;
  n: number;
  mean: number | null;
}

export interface ScoreLabelRow {
  name: string;
  data_type: ScoreDataType;
  start: Date | null;
  label: string;
  n: number;
}

export interface RejectionRow {
  scored: number;
  good: number;
  step_name: string | null;
  rejected: number | null;
  rejected_good: number | null;
  example_keys: string[] | null;
  examples: { runId: string; stepId: string; key: string }[] | null;
}

/**
 * The scores of a scope, aliased `sc`. The range bounds the run start, the scores' partition
 * key, so only the range's days are read; a pipeline is a semi-join on its runs in the range.
 */
function scopeWhere(s: ScoreScope): Sql {
  const ranges = s.within ?? [[s.from, s.to]];
  const started = (column: string) =>
    sql`(${sql.join(
      ranges.map(([a, b]) => sql`(${sql.raw(column)} >= ${a} AND ${sql.raw(column)} < ${b})`),
      ' OR ',
    )})`;
  const where = [sql`sc.project_id = ${s.projectId}::uuid`, started('sc.run_started_at')];
  if (s.name !== undefined) where.push(sql`sc.name = ${s.name}`);
  if (s.target === 'run') where.push(sql`sc.step_id IS NULL`);
  if (s.target === 'step') where.push(sql`sc.step_id IS NOT NULL AND sc.candidate_key IS NULL`);
  if (s.target === 'candidate') where.push(sql`sc.candidate_key IS NOT NULL`);
  if (s.pipeline !== undefined) {
    where.push(
      sql`sc.run_id IN (SELECT r.id FROM runs r WHERE r.project_id = ${s.projectId}::uuid AND r.pipeline = ${s.pipeline}
                        AND ${started('r.started_at')})`,
    );
  }
  return sql.join(where, ' AND ');
}

/** The rejection question's scope: a project's pipeline and candidate score name, runs started in [from, to). */
export type RejectionScope = Pick<ScoreScope, 'projectId' | 'from' | 'to' | 'within'> & { pipeline: string; name: string };

function rollupWhere(s: RejectionScope): Sql {
  return sql`sc.project_id = ${s.projectId}::uuid AND sc.pipeline = ${s.pipeline} AND sc.name = ${s.name} AND sc.hour >= ${s.from} AND sc.hour < ${s.to}`;
}

/** A score's value as a number for means: the number, or 1/0 for a boolean. */
const MEAN_VALUE = 'COALESCE(sc.value_number, sc.value_bool::int::double precision)';
/** The mean of the values of `sv` rows (each counted `n` times); null when none is a number or a boolean. */
const WEIGHTED_MEAN = sql.raw(`sum(sc.n * ${MEAN_VALUE}) / NULLIF(sum(sc.n) FILTER (WHERE ${MEAN_VALUE} IS NOT NULL), 0)`);

const HOUR = 3_600_000;

/**
 * The scores of a scope as the CTE `sv`: rows of name, data_type, hour (of the run's start),
 * the value columns and `n`, how many scores carry that value. The whole hours of the range
 * come from the rollup (database/score-values.ts), the partial hours at its edges from the
 * scores themselves.
 */
function scoreValues(s: ScoreScope): Sql {
  const h0 = new Date(Math.ceil(s.from.getTime() / HOUR) * HOUR);
  const h1 = new Date(Math.floor(s.to.getTime() / HOUR) * HOUR);
  const live = (from: Date, to: Date) =>
    sql`SELECT sc.name, sc.data_type, date_trunc('hour', sc.run_started_at, 'UTC') AS hour, sc.value_number, sc.value_bool, sc.value_label, 1 AS n
        FROM scores sc WHERE ${scopeWhere({ ...s, from, to })}`;
  if (h0 >= h1) return sql`sv AS (${live(s.from, s.to)})`;
  const where = [sql`sc.project_id = ${s.projectId}::uuid`, sql`sc.hour >= ${h0}`, sql`sc.hour < ${h1}`, sql`sc.n <> 0`];
  if (s.name !== undefined) where.push(sql`sc.name = ${s.name}`);
  if (s.pipeline !== undefined) where.push(sql`sc.pipeline = ${s.pipeline}`);
  if (s.target !== undefined) where.push(sql`sc.target = ${s.target}`);
  const parts = [
    sql`SELECT sc.name, sc.data_type, sc.hour, sc.value_number, sc.value_bool, sc.value_label, sc.n FROM score_values_hourly sc WHERE ${sql.join(where, ' AND ')}`,
  ];
  if (s.from < h0) parts.push(live(s.from, h0));
  if (h1 < s.to) parts.push(live(h1, s.to));
  return sql`sv AS (${sql.join(parts, ' UNION ALL ')})`;
}
/** A score's value as a label for distributions: the label, or `true`/`false`. */
const LABEL_VALUE = sql.raw('COALESCE(sc.value_label, sc.value_bool::text)');

/** Score aggregates: summaries, series and the rejection question, from their rollups (the partial hours at a range's edges from the scores). */
@Injectable()
export class ScoreAnalyticsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Per name and kind: count, mean, min and max; the `limit` most frequent. */
  stats(s: ScoreScope, limit: number, db: Queryable = this.dataSource): Promise<ScoreStatRow[]> {
    return query<ScoreStatRow>(
      db,
      sql`WITH ${scoreValues(s)}
          SELECT sc.name, sc.data_type, sum(sc.n)::int AS n, ${WEIGHTED_MEAN} AS mean, min(sc.value_number) AS lo, max(sc.value_number) AS hi
          FROM sv sc GROUP BY sc.name, sc.data_type ORDER BY sum(sc.n) DESC, sc.name, sc.data_type LIMIT ${limit}`,
    );
  }

  /** Per name, kind and time bucket (`hour` or `day` of the run start): count and mean. */
  buckets(s: ScoreScope, bucket: 'hour' | 'day', db: Queryable = this.dataSource): Promise<ScoreBucketRow[]> {
    return query<ScoreBucketRow>(
      db,
      sql`WITH ${scoreValues(s)}
          SELECT sc.name, sc.data_type, date_trunc(${bucket}, sc.hour, 'UTC') AS start, sum(sc.n)::int AS n, ${WEIGHTED_MEAN} AS mean
          FROM sv sc GROUP BY 1, 2, 3 ORDER BY 3`,
    );
  }

  /** Label (or true/false) counts per name and kind, overall (`bucket` null) or per time bucket. */
  labels(s: ScoreScope, bucket: 'hour' | 'day' | null, db: Queryable = this.dataSource): Promise<ScoreLabelRow[]> {
    const start = bucket === null ? sql`NULL::timestamptz` : sql`date_trunc(${bucket}, sc.hour, 'UTC')`;
    return query<ScoreLabelRow>(
      db,
      sql`WITH ${scoreValues(s)}
          SELECT sc.name, sc.data_type, ${start} AS start, ${LABEL_VALUE} AS label, sum(sc.n)::int AS n
          FROM sv sc WHERE sc.data_type <> 'numeric'
          GROUP BY 1, 2, 3, 4 ORDER BY 3, sum(sc.n) DESC, 4`,
    );
  }

  /** Numeric scores per name in 10 equal-width buckets between the name's min and max (bucket 0 only when they are equal). */
  histograms(s: ScoreScope, db: Queryable = this.dataSource): Promise<{ name: string; lo: number; hi: number; b: number; n: number }[]> {
    return query(
      db,
      sql`WITH ${scoreValues(s)},
          bounds AS (SELECT sc.name, min(sc.value_number) AS lo, max(sc.value_number) AS hi FROM sv sc WHERE sc.data_type = 'numeric' GROUP BY sc.name)
          SELECT sc.name, b.lo, b.hi,
                 CASE WHEN b.hi = b.lo THEN 0 ELSE LEAST(floor((sc.value_number - b.lo) / (b.hi - b.lo) * 10), 9) END::int AS b,
                 sum(sc.n)::int AS n
          FROM sv sc JOIN bounds b ON b.name = sc.name
          WHERE sc.data_type = 'numeric'
          GROUP BY 1, 2, 3, 4 ORDER BY 1, 4`,
    );
  }

  /**
   * The cross-run question from its rollup (database/score-rejections.ts), for runs started in
   * whole hours [from, to): per step name, the items it rejected and how many of them were good
   * (`good` over the rollup row `sc`, whose value columns are a score's); step name `''` is the
   * items scored.
   */
  rejectionCounts(s: RejectionScope, good: Sql, db: Queryable = this.dataSource): Promise<{ step_name: string; n: number; n_good: number }[]> {
    return query(
      db,
      sql`SELECT sc.step_name, sum(sc.items)::int AS n, COALESCE(sum(sc.items) FILTER (WHERE ${good}), 0)::int AS n_good
          FROM score_rejections_hourly sc
          WHERE ${rollupWhere(s)}
          GROUP BY sc.step_name HAVING sum(sc.items) <> 0`,
    );
  }

  /** From the rollup: per step name and hour (newest first), the good items it rejected, where any. */
  rejectedGoodByHour(s: RejectionScope, good: Sql, db: Queryable = this.dataSource): Promise<{ step_name: string; hour: Date; n_good: number }[]> {
    return query(
      db,
      sql`SELECT sc.step_name, sc.hour, sum(sc.items)::int AS n_good
          FROM score_rejections_hourly sc
          WHERE ${rollupWhere(s)} AND sc.step_name <> '' AND ${good}
          GROUP BY sc.step_name, sc.hour HAVING sum(sc.items) > 0 ORDER BY sc.hour DESC`,
    );
  }

  /**
   * The cross-run question: for candidate scores named `name` in the pipeline's runs, each
   * (run, key) taken once with its latest score, which steps of that run rejected the key, per
   * step name. `good` is the condition on a scores row `sc` that makes a score good. Answers one
   * row per step name (or one row with a null step name when none rejected a scored item),
   * each repeating the totals. The rejecting steps are read from the score itself
   * (database/score-rejections.ts): scores alone, no probe of the candidates per item.
   */
  rejections(s: RejectionScope, good: Sql, db: Queryable = this.dataSource): Promise<RejectionRow[]> {
    return query<RejectionRow>(
      db,
      sql`WITH scored AS MATERIALIZED (
            SELECT DISTINCT ON (sc.run_id, sc.candidate_key) sc.run_id, sc.run_started_at, sc.candidate_key AS key, COALESCE(${good}, false) AS good,
                   sc.rejected_steps, sc.rejected_names
            FROM scores sc
            WHERE ${scopeWhere({ ...s, target: 'candidate' })}
            ORDER BY sc.run_id, sc.candidate_key, sc.created_at DESC, sc.id DESC
          ),
          totals AS (SELECT count(*)::int AS scored, count(*) FILTER (WHERE good)::int AS good FROM scored),
          rejected AS (
            SELECT u.step_name, u.step_id, sd.run_id, sd.run_started_at, sd.key, sd.good
            FROM scored sd CROSS JOIN LATERAL unnest(sd.rejected_steps, sd.rejected_names) AS u(step_id, step_name)
          ),
          per_step AS (
            SELECT step_name, count(*)::int AS rejected, count(*) FILTER (WHERE good)::int AS rejected_good,
                   (SELECT array_agg(k.key) FROM (
                      SELECT r2.key FROM rejected r2 WHERE r2.step_name = r.step_name AND r2.good
                      GROUP BY r2.key ORDER BY count(*) DESC, r2.key LIMIT 5) k) AS example_keys,
                   (SELECT json_agg(json_build_object('runId', e.run_id, 'stepId', e.step_id, 'key', e.key)) FROM (
                      SELECT r3.run_id, r3.step_id, r3.key FROM rejected r3 WHERE r3.step_name = r.step_name AND r3.good
                      ORDER BY r3.run_started_at DESC, r3.run_id, r3.key LIMIT 5) e) AS examples
            FROM rejected r GROUP BY step_name
          )
          SELECT t.scored, t.good, ps.step_name, ps.rejected, ps.rejected_good, ps.example_keys, ps.examples
          FROM totals t LEFT JOIN per_step ps ON true
          ORDER BY ps.rejected_good DESC NULLS LAST, ps.rejected DESC, ps.step_name`,
    );
  }
}
