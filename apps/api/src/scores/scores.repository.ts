import { Injectable } from '@nestjs/common';
import type { TimeIdCursor } from '../common/cursor.js';
import type { Queryable } from '../database/queryable.js';
import { query, queryChanged, type Sql, sql } from '../database/sql.js';
import { rejectionsOf } from '../database/score-rejections.js';
import { scoreValueRollup } from '../database/score-values.js';
import type { ScoreDataType, ScoreSource } from './scores.dto.js';

export interface ScoreRow {
  id: string;
  run_id: string;
  run_started_at: Date;
  step_id: string | null;
  candidate_key: string | null;
  name: string;
  data_type: ScoreDataType;
  value_number: number | null;
  value_bool: boolean | null;
  value_label: string | null;
  comment: string | null;
  source: ScoreSource;
  author: string | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

export type NewScore = Omit<ScoreRow, 'created_at' | 'updated_at'>;

export interface ScoreConfigRow {
  name: string;
  data_type: ScoreDataType;
  min: number | null;
  max: number | null;
  labels: string[] | null;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ScoreFilter {
  runId?: string;
  stepId?: string;
  key?: string;
  name?: string;
  source?: string;
}

/** Where a score's target lives: its run and the run's start (the partition of its row). */
export interface TargetRun {
  runId: string;
  runStartedAt: Date;
}

const COLUMN_LIST = [
  'id',
  'run_id',
  'run_started_at',
  'step_id',
  'candidate_key',
  'name',
  'data_type',
  'value_number',
  'value_bool',
  'value_label',
  'comment',
  'source',
  'author',
  'metadata',
  'created_at',
  'updated_at',
];
const COLUMNS = sql.raw(COLUMN_LIST.join(', '));
const CONFIG_COLUMNS = sql.raw('name, data_type, min, max, labels, description, created_at, updated_at');

/**
 * The scores and score_configs tables. Targets are looked up (read only) in runs, steps and
 * candidates: a score stores its run and the run's start, so it lives in its run's day partition.
 */
@Injectable()
export class ScoresRepository {
  /** The runs among `ids` in the project, with their starts, by id. */
  async runTargets(db: Queryable, projectId: string, ids: string[]): Promise<Map<string, TargetRun>> {
    if (ids.length === 0) return new Map();
    const rows = await query<{ id: string; started_at: Date }>(
      db,
      sql`SELECT id, started_at FROM runs WHERE project_id = ${projectId}::uuid AND id = ANY(${ids}::uuid[])`,
    );
    return new Map(rows.map((r) => [r.id, { runId: r.id, runStartedAt: r.started_at }]));
  }

  /** The steps among `ids` in the project, with their runs and run starts, by id. */
  async stepTargets(db: Queryable, projectId: string, ids: string[]): Promise<Map<string, TargetRun>> {
    if (ids.length === 0) return new Map();
    const rows = await query<{ id: string; run_id: string; run_started_at: Date }>(
      db,
      sql`SELECT DISTINCT ON (id) id, run_id, run_started_at FROM steps WHERE project_id = ${projectId}::uuid AND id = ANY(${ids}::uuid[])`,
    );
    return new Map(rows.map((r) => [r.id, { runId: r.run_id, runStartedAt: r.run_started_at }]));
  }

  /** Which of the candidates (step, key, and the step's run and start) exist, as `stepId\0key`. */
  async existingCandidates(db: Queryable, projectId: string, cs: { stepId: string; key: string; run: TargetRun }[]): Promise<Set<string>> {
    if (cs.length === 0) return new Set();
    const rows = await query<{ step_id: string; key: string }>(
      db,
      sql`SELECT c.step_id, c.key FROM candidates c
          WHERE c.project_id = ${projectId}::uuid
            AND (c.step_id, c.key, c.run_id, c.run_started_at) IN (
              SELECT * FROM unnest(${cs.map((c) => c.stepId)}::uuid[], ${cs.map((c) => c.key)}::text[],
                                   ${cs.map((c) => c.run.runId)}::uuid[], ${cs.map((c) => c.run.runStartedAt.toISOString())}::timestamptz[]))`,
    );
    return new Set(rows.map((r) => `${r.step_id}\u0000${r.key}`));
  }

  /** The scores among `ids` in the project. */
  async findMany(db: Queryable, projectId: string, ids: string[]): Promise<ScoreRow[]> {
    if (ids.length === 0) return [];
    return query<ScoreRow>(db, sql`SELECT ${COLUMNS} FROM scores WHERE project_id = ${projectId}::uuid AND id = ANY(${ids}::uuid[])`);
  }

  /**
   * Inserts the scores (ids unique among them, none found stored by {@link findMany} just
   * before) in one statement; answers those inserted. An id a concurrent retry stored in the
   * meantime is skipped by the primary key: a retry names the same target, so its row lands in
   * the same day partition (a check across every partition cost ~2 ms per score at 40 days).
   * A candidate score records which steps of its run rejected its item
   * (database/score-rejections.ts; the caller holds the runs' lock).
   */
  async insertMany(db: Queryable, projectId: string, scores: NewScore[]): Promise<ScoreRow[]> {
    if (scores.length === 0) return [];
    return query<ScoreRow>(
      db,
      sql`WITH inserted AS (
          INSERT INTO scores (project_id, id, run_id, run_started_at, step_id, candidate_key, name, data_type, value_number, value_bool, value_label, comment, source, author, metadata,
                              rejected_steps, rejected_names)
          SELECT ${projectId}::uuid, x.id, x.run_id, x.run_started_at, x.step_id, x.candidate_key, x.name, x.data_type,
                 x.value_number, x.value_bool, x.value_label, x.comment, x.source, x.author, x.metadata, r.steps, r.names
          FROM jsonb_to_recordset(${JSON.stringify(scores)}::jsonb) AS x(id uuid, run_id uuid, run_started_at timestamptz, step_id uuid, candidate_key text,
               name text, data_type text, value_number double precision, value_bool boolean, value_label text, comment text, source text, author text, metadata jsonb)
          LEFT JOIN LATERAL (${rejectionsOf(projectId, sql.raw('x'))}) r ON x.candidate_key IS NOT NULL
          ON CONFLICT DO NOTHING
          RETURNING ${COLUMNS}
          )${scoreValueRollup(projectId, [{ from: 'inserted', sign: 1 }])}
          SELECT * FROM inserted`,
    );
  }

  async find(db: Queryable, projectId: string, id: string): Promise<ScoreRow | null> {
    const [row] = await query<ScoreRow>(db, sql`SELECT ${COLUMNS} FROM scores WHERE project_id = ${projectId}::uuid AND id = ${id}::uuid LIMIT 1`);
    return row ?? null;
  }

  async list(db: Queryable, projectId: string, f: ScoreFilter, limit: number, after?: TimeIdCursor): Promise<ScoreRow[]> {
    const where: Sql[] = [sql`project_id = ${projectId}::uuid`];
    if (f.runId !== undefined) where.push(sql`run_id = ${f.runId}::uuid`);
    if (f.stepId !== undefined) where.push(sql`step_id = ${f.stepId}::uuid`);
    if (f.key !== undefined) where.push(sql`candidate_key = ${f.key}`);
    if (f.name !== undefined) where.push(sql`name = ${f.name}`);
    if (f.source !== undefined) where.push(sql`source = ${f.source}`);
    if (after !== undefined) where.push(sql`(created_at, id) < (${after.at}, ${after.id}::uuid)`);
    return query<ScoreRow>(db, sql`SELECT ${COLUMNS} FROM scores WHERE ${sql.join(where, ' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${limit}`);
  }

  /** A run's own scores and its steps' (not its candidates'), oldest first. */
  async ofRun(db: Queryable, projectId: string, runId: string, runStartedAt: Date): Promise<ScoreRow[]> {
    return query<ScoreRow>(
      db,
      sql`SELECT ${COLUMNS} FROM scores WHERE project_id = ${projectId}::uuid AND run_id = ${runId}::uuid AND run_started_at = ${runStartedAt}
          AND candidate_key IS NULL ORDER BY created_at, id`,
    );
  }

  /**
   * The steps' own scores (not their candidates'), oldest first. The steps' run starts (looked up
   * first, an init plan) let PostgreSQL read only their days' partitions.
   */
  async ofSteps(db: Queryable, projectId: string, stepIds: string[]): Promise<ScoreRow[]> {
    return query<ScoreRow>(
      db,
      sql`SELECT ${COLUMNS} FROM scores WHERE project_id = ${projectId}::uuid AND step_id = ANY(${stepIds}::uuid[]) AND candidate_key IS NULL
            AND run_started_at = ANY(ARRAY(SELECT run_started_at FROM steps WHERE project_id = ${projectId}::uuid AND id = ANY(${stepIds}::uuid[])))
          ORDER BY created_at, id`,
    );
  }

  /** The scores of a step's candidates with these keys, oldest first (read from the step's day only). */
  async ofStepCandidates(db: Queryable, projectId: string, stepId: string, keys: string[]): Promise<ScoreRow[]> {
    return query<ScoreRow>(
      db,
      sql`SELECT ${COLUMNS} FROM scores WHERE project_id = ${projectId}::uuid AND step_id = ${stepId}::uuid AND candidate_key = ANY(${keys}::text[])
            AND run_started_at = ANY(ARRAY(SELECT run_started_at FROM steps WHERE project_id = ${projectId}::uuid AND id = ${stepId}::uuid))
          ORDER BY created_at, id`,
    );
  }

  /** The scores of candidates, each a (step id, key, run start) triple, oldest first. */
  async ofCandidates(db: Queryable, projectId: string, cs: { stepId: string; key: string; runStartedAt: Date }[]): Promise<ScoreRow[]> {
    return query<ScoreRow>(
      db,
      sql`SELECT ${COLUMNS} FROM scores
          WHERE project_id = ${projectId}::uuid AND step_id IS NOT NULL
            AND (step_id, candidate_key, run_started_at) IN (
              SELECT * FROM unnest(${cs.map((c) => c.stepId)}::uuid[], ${cs.map((c) => c.key)}::text[], ${cs.map((c) => c.runStartedAt.toISOString())}::timestamptz[]))
          ORDER BY created_at, id`,
    );
  }

  async update(
    db: Queryable,
    projectId: string,
    current: ScoreRow,
    v: Pick<ScoreRow, 'value_number' | 'value_bool' | 'value_label' | 'data_type' | 'comment' | 'metadata'>,
  ): Promise<ScoreRow> {
    const [row] = await query<ScoreRow>(
      db,
      sql`WITH old AS (SELECT * FROM (
            SELECT ${COLUMNS} FROM scores WHERE project_id = ${projectId}::uuid AND id = ${current.id}::uuid AND run_started_at = ${current.run_started_at} FOR UPDATE
          ) locked),
          updated AS (
            UPDATE scores s SET data_type = ${v.data_type}, value_number = ${v.value_number}::double precision, value_bool = ${v.value_bool}::boolean,
              value_label = ${v.value_label}, comment = ${v.comment}, metadata = ${v.metadata === null ? null : JSON.stringify(v.metadata)}::jsonb, updated_at = now()
            FROM old WHERE s.project_id = ${projectId}::uuid AND s.id = old.id AND s.run_started_at = old.run_started_at
            RETURNING ${sql.raw(COLUMN_LIST.map((c) => `s.${c}`).join(', '))}
          )${scoreValueRollup(projectId, [
            { from: 'updated', sign: 1 },
            { from: 'old', sign: -1 },
          ])}
          SELECT * FROM updated`,
    );
    return row;
  }

  async delete(db: Queryable, projectId: string, id: string): Promise<boolean> {
    const rows = await query(
      db,
      sql`WITH gone AS (DELETE FROM scores WHERE project_id = ${projectId}::uuid AND id = ${id}::uuid RETURNING ${COLUMNS})${scoreValueRollup(projectId, [
        { from: 'gone', sign: -1 },
      ])}
      SELECT id FROM gone`,
    );
    return rows.length > 0;
  }

  async configs(db: Queryable, projectId: string, names?: string[]): Promise<ScoreConfigRow[]> {
    const only = names === undefined ? sql`` : sql`AND name = ANY(${names}::text[])`;
    return query<ScoreConfigRow>(db, sql`SELECT ${CONFIG_COLUMNS} FROM score_configs WHERE project_id = ${projectId}::uuid ${only} ORDER BY name`);
  }

  /** Inserts a configuration unless the name has one (answers null then). */
  async insertConfig(db: Queryable, projectId: string, c: Omit<ScoreConfigRow, 'created_at' | 'updated_at'>): Promise<ScoreConfigRow | null> {
    const [row] = await query<ScoreConfigRow>(
      db,
      sql`INSERT INTO score_configs (project_id, name, data_type, min, max, labels, description)
          VALUES (${projectId}::uuid, ${c.name}, ${c.data_type}, ${c.min}::double precision, ${c.max}::double precision,
                  ${c.labels === null ? null : JSON.stringify(c.labels)}::jsonb, ${c.description})
          ON CONFLICT DO NOTHING RETURNING ${CONFIG_COLUMNS}`,
    );
    return row ?? null;
  }

  async replaceConfig(db: Queryable, projectId: string, c: Omit<ScoreConfigRow, 'created_at' | 'updated_at'>): Promise<ScoreConfigRow | null> {
    const [row] = await queryChanged<ScoreConfigRow>(
      db,
      sql`UPDATE score_configs SET data_type = ${c.data_type}, min = ${c.min}::double precision, max = ${c.max}::double precision,
            labels = ${c.labels === null ? null : JSON.stringify(c.labels)}::jsonb, description = ${c.description}, updated_at = now()
          WHERE project_id = ${projectId}::uuid AND name = ${c.name} RETURNING ${CONFIG_COLUMNS}`,
    );
    return row ?? null;
  }

  async deleteConfig(db: Queryable, projectId: string, name: string): Promise<boolean> {
    const rows = await queryChanged(db, sql`DELETE FROM score_configs WHERE project_id = ${projectId}::uuid AND name = ${name} RETURNING name`);
    return rows.length > 0;
  }
}
