import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { previewColumns } from '../common/preview-sql.js';
import { DatabaseHandle } from '../database/database.module.js';
import type { Queryable } from '../database/queryable.js';
import { reasonRollups } from '../database/rollups.js';
import { query, type Sql, sql } from '../database/sql.js';
import { keyNotErased } from '../lifecycle/tombstones.js';
import { moveRejectionsOfCandidates } from '../database/score-rejections.js';
import { StepsRepository } from '../steps/steps.repository.js';
import { CANDIDATE_PREVIEW_FIELDS, type CandidateDto, type CandidateInputDto } from './candidates.dto.js';

export interface CandidateRow {
  key: string;
  decision: string;
  score: number | null;
  rank: number | null;
  reason: string | null;
  evaluations: CandidateDto['evaluations'];
  data: unknown;
  created_at: Date;
}

/** The SQL of the candidates table. */
@Injectable()
export class CandidatesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly steps: StepsRepository,
    private readonly database: DatabaseHandle,
  ) {}

  /**
   * One statement writes a whole batch, for one step or several: the rows arrive as a single
   * JSON parameter (`payload`; with `single`, every row is for that step and carries no
   * step_id), are upserted on the step and key, and each step's stored counters, the step
   * rollups and the reasons rollup move by exactly what changed (the steps module's statement
   * parts, embedded). `prev` reads the batch's keys as they were before the statement, so
   * replays do not inflate the counts. Steps outside the project are ignored (and reported by
   * their absence from the result). `counted`: steps whose counters already include these
   * candidates (no earlier decision is looked up; the candidates of an erased key, which are
   * not stored, are taken back out of them). Keys the project erased are not stored
   * (lifecycle/tombstones.ts); a step whose every candidate was erased answers 0 stored. Each
   * row lands in its run's partition: the step carries the run's start, and the step lookup is
   * the batch's integrity check (no foreign keys on this table).
   */
  async insertCandidateBatch(
    projectId: string,
    payload: string,
    single: string | null,
    stepIds: string[],
    counted: string[],
    db: Queryable = this.dataSource,
  ): Promise<{ step_id: string; name: string; run_id: string; run_started_at: Date; stored: number }[]> {
    return query<{ step_id: string; name: string; run_id: string; run_started_at: Date; stored: number }>(
      db,
      sql`
WITH input AS (
  SELECT COALESCE(${single}::uuid, x.step_id) AS step_id, x.key, x.decision, x.score, x.rank, x.reason, x.evaluations, x.data
  FROM jsonb_to_recordset(${payload}::jsonb)
    AS x(step_id uuid, key text, decision text, score double precision, rank integer, reason text, evaluations jsonb, data jsonb)
),
step AS (
  SELECT id, run_id, run_started_at, project_id, pipeline, name, type FROM steps WHERE project_id = ${projectId} AND id = ANY(${stepIds}::uuid[])
),
prev AS (
  SELECT c.step_id, c.decision, c.reason FROM step s
  JOIN candidates c ON c.project_id = s.project_id AND c.step_id = s.id AND c.run_id = s.run_id AND c.run_started_at = s.run_started_at
  JOIN input i ON i.step_id = c.step_id AND i.key = c.key
  WHERE NOT (s.id = ANY(${counted}::uuid[]))
),
written AS (
  INSERT INTO candidates (project_id, run_id, run_started_at, step_id, key, decision, score, rank, reason, evaluations, data)
  SELECT s.project_id, s.run_id, s.run_started_at, s.id, i.key, i.decision, i.score, i.rank, i.reason, i.evaluations, i.data
  FROM input i JOIN step s ON s.id = i.step_id
  WHERE ${keyNotErased(projectId, sql.raw('i.key'))}
  ON CONFLICT (project_id, step_id, key, run_id, run_started_at) DO UPDATE SET
    decision = EXCLUDED.decision, score = EXCLUDED.score, rank = EXCLUDED.rank, reason = EXCLUDED.reason,
    evaluations = EXCLUDED.evaluations, data = EXCLUDED.data
  RETURNING step_id, decision, reason
),
erased AS (
  SELECT i.step_id, i.decision FROM input i JOIN step s ON s.id = i.step_id
  WHERE i.step_id = ANY(${counted}::uuid[]) AND NOT ${keyNotErased(projectId, sql.raw('i.key'))}
),
delta AS (
  SELECT step_id, sum(d_in)::int AS d_in, sum(d_out)::int AS d_out FROM (
    SELECT step_id, 1 AS d_in, (decision <> 'rejected')::int AS d_out FROM written WHERE NOT (step_id = ANY(${counted}::uuid[]))
    UNION ALL
    SELECT step_id, -1, -((decision <> 'rejected')::int) FROM prev
    UNION ALL
    SELECT step_id, -1, -((decision <> 'rejected')::int) FROM erased
  ) z GROUP BY step_id
)${this.steps.stepCounterMoves(projectId, 'delta', [])},
reason_new AS (${reasonRows('written')}),
reason_old AS (${reasonRows('prev')})${reasonRollups([
        { from: 'reason_new', sign: 1 },
        { from: 'reason_old', sign: -1 },
      ])}
SELECT s.id AS step_id, s.name, s.run_id, s.run_started_at, count(w.step_id)::int AS stored, (SELECT count(*) FROM counted)::int AS counted
FROM step s LEFT JOIN written w ON w.step_id = s.id GROUP BY s.id, s.name, s.run_id, s.run_started_at`,
    );
  }

  /**
   * The fast path for a step's first batch: COPY, the way PostgreSQL loads rows fastest, in a
   * transaction that first locks the step. It applies only when the step has no candidates
   * stored (then no row of the batch can conflict, the keys being unique within it), and
   * answers `fresh: false` without writing otherwise (always on the embedded database, and in a
   * project that has erased keys). The counters and rollups then move by the
   * batch's own counts, in one statement. Any error rolls the whole transaction back; the
   * caller then takes the statement path, which also names what was wrong.
   */
  async copyFirstBatch(
    projectId: string,
    stepId: string,
    candidates: CandidateInputDto[],
  ): Promise<{ found: false } | { found: true; fresh: false } | { found: true; fresh: true; stored: number }> {
    if (!this.database.copyIn) return { found: true, fresh: false };
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // A project that has erased keys takes the statement path, which leaves them out.
      const [step] = (await runner.query(
        `SELECT id, name, run_id, run_started_at, stored_in, EXISTS (SELECT 1 FROM erased_keys WHERE project_id = $1) AS erased
         FROM steps WHERE project_id = $1 AND id = $2 FOR UPDATE`,
        [projectId, stepId],
      )) as { id: string; name: string; run_id: string; run_started_at: Date; stored_in: number; erased: boolean }[];
      if (!step || step.stored_in !== 0 || step.erased) {
        await runner.rollbackTransaction();
        return step ? { found: true, fresh: false } : { found: false };
      }
      const client = (runner as unknown as { databaseConnection: PoolClient }).databaseConnection;
      const lead = [projectId, step.run_id, stepId, step.run_started_at.toISOString()].join('\t');
      await pipeline(
        Readable.from(copyRows(lead, candidates)),
        client.query(copyFrom(`COPY candidates (project_id, run_id, step_id, run_started_at, ${COPY_COLUMNS}) FROM STDIN`)),
      );
      const kept = candidates.reduce((n, c) => n + (c.decision === 'rejected' ? 0 : 1), 0);
      const reasons = new Map<string, number>();
      for (const c of candidates) if (c.decision === 'rejected' && c.reason) reasons.set(c.reason, (reasons.get(c.reason) ?? 0) + 1);
      const { text, values } = sql`WITH step AS (
          SELECT id, run_id, run_started_at, project_id, pipeline, name, type FROM steps WHERE project_id = ${projectId} AND id = ${stepId}
        ),
        delta AS (SELECT ${stepId}::uuid AS step_id, ${candidates.length}::int AS d_in, ${kept}::int AS d_out)${this.steps.stepCounterMoves(projectId, 'delta', [])},
        reason_new AS (
          SELECT s.project_id, s.pipeline, s.run_started_at, s.name AS step_name, s.type AS step_type, 'rejected' AS decision, r.reason
          FROM step s CROSS JOIN jsonb_to_recordset(${JSON.stringify([...reasons].map(([reason, n]) => ({ reason, n })))}::jsonb) AS r(reason text, n int)
          CROSS JOIN generate_series(1, r.n)
        )${reasonRollups([{ from: 'reason_new', sign: 1 }])}
        SELECT count(*)::int AS counted FROM counted`.toQuery();
      await runner.query(text, values);
      const at = { id: stepId, name: step.name, runId: step.run_id, runStartedAt: step.run_started_at };
      await moveRejectionsOfCandidates(
        runner,
        projectId,
        candidates.map((c) => ({ step: at, key: c.key, rejected: c.decision === 'rejected' })),
      );
      await runner.commitTransaction();
      return { found: true, fresh: true, stored: candidates.length };
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  /**
   * Sets when a step's candidates were stored to the times given by key (an import keeps the
   * exported times). Writes only the rows that differ, so repeating it changes nothing.
   */
  async restoreCreatedAt(
    projectId: string,
    run: { id: string; startedAt: Date },
    stepId: string,
    times: { key: string; createdAt: string }[],
    db: Queryable = this.dataSource,
  ): Promise<void> {
    if (times.length === 0) return;
    await query(
      db,
      sql`UPDATE candidates c SET created_at = x."createdAt"
       FROM jsonb_to_recordset(${JSON.stringify(times)}::jsonb) AS x(key text, "createdAt" timestamptz)
       WHERE c.project_id = ${projectId} AND c.step_id = ${stepId} AND c.key = x.key AND c.run_id = ${run.id} AND c.run_started_at = ${run.startedAt}
         AND c.created_at IS DISTINCT FROM x."createdAt"`,
    );
  }

  /** A page of a step's candidates after the key `afterKey`, in key order, `evaluations` and `data` as previews. */
  listCandidatesForStep(
    projectId: string,
    stepId: string,
    f: { decision?: string; reason?: string; afterKey?: string },
    limit: number,
    previewChars: number,
    db: Queryable = this.dataSource,
  ): Promise<CandidateRow[]> {
    const where: Sql[] = [];
    if (f.decision !== undefined) where.push(sql`c.decision = ${f.decision}`);
    if (f.reason !== undefined) where.push(sql`c.reason = ${f.reason}`);
    if (f.afterKey !== undefined) where.push(sql`c.key > ${f.afterKey}`);
    return query<CandidateRow>(
      db,
      sql`SELECT c.key, c.decision, c.score, c.rank, c.reason, c.created_at,
              ${previewColumns(CANDIDATE_PREVIEW_FIELDS, previewChars, 'c.')}
       FROM ${ofStep(projectId, stepId)} ${where.length ? sql`AND ${sql.join(where, ' AND ')}` : sql``}
       ORDER BY c.key LIMIT ${limit}`,
    );
  }

  /**
   * One candidate of a step, in one round trip: no row means no such step in the project;
   * `found` false, a step without this key.
   */
  async findCandidateOfStep(
    projectId: string,
    stepId: string,
    key: string,
    db: Queryable = this.dataSource,
  ): Promise<(CandidateRow & { found: boolean }) | undefined> {
    const rows = await query<CandidateRow & { found: boolean }>(
      db,
      sql`SELECT c.key IS NOT NULL AS found, c.key, c.decision, c.score, c.rank, c.reason, c.evaluations, c.data, c.created_at
       FROM steps s LEFT JOIN candidates c
         ON c.project_id = s.project_id AND c.step_id = s.id AND c.run_id = s.run_id AND c.run_started_at = s.run_started_at AND c.key = ${key}
       WHERE s.project_id = ${projectId} AND s.id = ${stepId}`,
    );
    return rows[0];
  }

  countByDecision(projectId: string, stepId: string, db: Queryable = this.dataSource): Promise<{ decision: string; count: number }[]> {
    return query(db, sql`SELECT c.decision, count(*)::int AS count FROM ${ofStep(projectId, stepId)} GROUP BY c.decision`);
  }

  /** The 100 most frequent reasons of a step's candidates. */
  countByReason(projectId: string, stepId: string, db: Queryable = this.dataSource): Promise<{ reason: string; count: number }[]> {
    return query(
      db,
      sql`SELECT c.reason, count(*)::int AS count FROM ${ofStep(projectId, stepId)} AND c.reason IS NOT NULL
       GROUP BY c.reason ORDER BY count DESC, c.reason LIMIT 100`,
    );
  }

  listDecisionsOfSteps(projectId: string, stepIds: string[], db: Queryable = this.dataSource): Promise<{ step_id: string; key: string; decision: string }[]> {
    return query(
      db,
      sql`SELECT s.id AS step_id, c.key, c.decision FROM steps s
       CROSS JOIN LATERAL (
         SELECT c.key, c.decision FROM candidates c
         WHERE c.project_id = s.project_id AND c.step_id = s.id AND c.run_id = s.run_id AND c.run_started_at = s.run_started_at
         OFFSET 0 -- kept a subquery: not pulled up into a join
       ) c
       WHERE s.project_id = ${projectId} AND s.id = ANY(${stepIds}::uuid[])`,
    );
  }
}

/**
 * `steps s, candidates c … WHERE` one step of the project (alias `c` for its candidates): through
 * the step row, laterally, so the candidates are read from its run's partition only (a join
 * would be planned as a scan of every partition).
 */
function ofStep(projectId: string, stepId: string): Sql {
  return sql`steps s CROSS JOIN LATERAL (
         SELECT * FROM candidates c
         WHERE c.project_id = s.project_id AND c.step_id = s.id AND c.run_id = s.run_id AND c.run_started_at = s.run_started_at
         OFFSET 0 -- kept a subquery: not pulled up into a join
       ) c
       WHERE s.project_id = ${projectId} AND s.id = ${stepId}`;
}

/** The reasons rollup's rows (see database/rollups.ts) of candidate rows `from` (step_id, decision, reason), with their step's keys. */
function reasonRows(from: string): Sql {
  return sql.raw(`SELECT s.project_id, s.pipeline, s.run_started_at, s.name AS step_name, s.type AS step_type, x.decision, x.reason
    FROM ${from} x JOIN step s ON s.id = x.step_id WHERE x.decision = 'rejected' AND x.reason IS NOT NULL AND s.type = 'filter'`);
}

/** The candidate columns of a COPY row, after the step's ids. */
const COPY_COLUMNS = 'key, decision, score, rank, reason, evaluations, data';

/** A COPY text-format field: \N for null, backslash, tab, newline and carriage return escaped. */
function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, escapeChar) : value;
  return copyJson(value);
}

/** JSON text as a COPY field: JSON never holds a raw tab or line break, so only backslashes need doubling. */
function copyJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes('\\') ? text.replaceAll('\\', '\\\\') : text;
}

const escapeChar = (c: string) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r');

/** COPY rows of a batch, in chunks of ~1,000 rows, each led by `lead` (the step's ids, tab-separated). */
function* copyRows(lead: string, candidates: CandidateInputDto[]): Generator<string> {
  let chunk = '';
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    // data: a JSON value of any kind, stored as jsonb (a JSON string stays a JSON string).
    const data = c.data === undefined || c.data === null ? '\\N' : copyJson(c.data);
    chunk += `${lead}\t${copyField(c.key)}\t${c.decision}\t${copyField(c.score)}\t${copyField(c.rank)}\t${copyField(c.reason)}\t${copyField(c.evaluations)}\t${data}\n`;
    if (i % 1000 === 999) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
