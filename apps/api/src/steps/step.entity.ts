import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { RunStatus, StepType } from '../domain/vocabulary.js';
import type { ErrorInfo } from '../runs/run.entity.js';

/**
 * One unit of work inside a run; steps nest through `parentStepId`. The table is partitioned by
 * day of `run_started_at` (its run's start; see database/partitions.ts), which TypeORM does not
 * model: the migration PartitionedStorage creates it, and the entity describes its columns and keys.
 * No foreign keys: the writers find the run (and parent) in their own statements.
 */
@Entity({ name: 'steps' })
@Index('idx_steps_run_parent_position', ['projectId', 'runId', 'parentStepId', 'position'])
@Index('idx_steps_run_started', ['projectId', 'runId', 'startedAt', 'id'])
@Index('idx_steps_project_name_started', ['projectId', 'name', 'startedAt', 'id'])
// Covering (INCLUDE name, type, status, duration, ratio) for pipeline analytics; made by a migration.
@Index('idx_steps_project_pipeline_started', { synchronize: false })
@Index('idx_steps_search', { synchronize: false })
@Index('idx_steps_project_model_started', { synchronize: false })
@Check('chk_steps_ended_after_started', `"ended_at" IS NULL OR "ended_at" >= "started_at"`)
@Check('chk_steps_status', `"status" IN ('running', 'success', 'error', 'cancelled', 'timed_out')`)
@Check('chk_steps_type', `"type" IN ('llm', 'retrieval', 'filter', 'rank', 'transform', 'tool', 'custom')`)
export class Step {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_steps' })
  id: string;

  @PrimaryColumn({ name: 'project_id', type: 'uuid', primaryKeyConstraintName: 'pk_steps' })
  projectId: string;

  @PrimaryColumn({ name: 'run_id', type: 'uuid', primaryKeyConstraintName: 'pk_steps' })
  runId: string;

  /** The run's start: the partition key, in every key so a distributed engine can place the row. */
  @PrimaryColumn({ name: 'run_started_at', type: 'timestamptz', precision: 3, primaryKeyConstraintName: 'pk_steps' })
  runStartedAt: Date;

  /** The parent step, in the same run (no foreign key: checked by the writers). */
  @Column({ name: 'parent_step_id', type: 'uuid', nullable: true })
  parentStepId: string | null;

  /** The run's pipeline, copied at creation so cross-run searches need no join. */
  @Column({ type: 'text' })
  pipeline: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: 'custom' })
  type: StepType;

  /** Order among siblings (same run and parent), assigned on creation. */
  @Column({ type: 'integer' })
  position: number;

  @Column({ type: 'text', default: 'running' })
  status: RunStatus;

  @Column({ type: 'jsonb', nullable: true })
  input: unknown;

  @Column({ type: 'jsonb', nullable: true })
  output: unknown;

  @Column({ type: 'jsonb', nullable: true })
  error: ErrorInfo | null;

  @Column({ type: 'text', nullable: true })
  reasoning: string | null;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  metadata: Record<string, unknown>;

  @Column({ name: 'started_at', type: 'timestamptz', precision: 3 })
  startedAt: Date;

  @Column({ name: 'ended_at', type: 'timestamptz', precision: 3, nullable: true })
  endedAt: Date | null;

  @Column({
    name: 'duration_ms',
    type: 'double precision',
    nullable: true,
    generatedType: 'STORED',
    asExpression: `extract(epoch from ("ended_at" - "started_at")) * 1000`,
    insert: false,
    update: false,
  })
  durationMs: number | null;

  /** True totals reported by the client (when it stored only a sample). */
  @Column({ name: 'reported_in', type: 'integer', nullable: true })
  reportedIn: number | null;

  @Column({ name: 'reported_out', type: 'integer', nullable: true })
  reportedOut: number | null;

  /** Counts of stored candidates, kept in step with every candidate write. */
  @Column({ name: 'stored_in', type: 'integer', default: 0 })
  storedIn: number;

  /** Stored candidates whose decision is `accepted` or `selected`. */
  @Column({ name: 'stored_out', type: 'integer', default: 0 })
  storedOut: number;

  @Column({
    name: 'candidates_in',
    type: 'integer',
    generatedType: 'STORED',
    asExpression: `coalesce("reported_in", "stored_in")`,
    insert: false,
    update: false,
  })
  candidatesIn: number;

  @Column({
    name: 'candidates_out',
    type: 'integer',
    generatedType: 'STORED',
    asExpression: `coalesce("reported_out", "stored_out")`,
    insert: false,
    update: false,
  })
  candidatesOut: number;

  /** 1 - out/in; null when nothing came in. Stored so cross-run searches can index it. */
  @Column({
    name: 'elimination_ratio',
    type: 'double precision',
    nullable: true,
    generatedType: 'STORED',
    asExpression: `CASE WHEN coalesce("reported_in", "stored_in") > 0 THEN 1 - coalesce("reported_out", "stored_out")::double precision / coalesce("reported_in", "stored_in") END`,
    insert: false,
    update: false,
  })
  eliminationRatio: number | null;

  /** Text searched by the run list's `q`: the step name and its error message. */
  @Column({
    name: 'search',
    type: 'tsvector',
    generatedType: 'STORED',
    asExpression: `to_tsvector('simple'::regconfig, coalesce("name", '') || ' ' || coalesce("error" ->> 'message', ''))`,
    insert: false,
    update: false,
    select: false,
  })
  search: string;

  /** The LLM fields (see the AddLlmFields migration); all null on steps that are not model calls. */
  @Column({ type: 'text', nullable: true })
  model: string | null;

  @Column({ type: 'text', nullable: true })
  provider: string | null;

  @Column({ name: 'model_parameters', type: 'jsonb', nullable: true })
  modelParameters: Record<string, unknown> | null;

  @Column({ name: 'usage_input', type: 'integer', nullable: true })
  usageInput: number | null;

  @Column({ name: 'usage_output', type: 'integer', nullable: true })
  usageOutput: number | null;

  @Column({ name: 'usage_total', type: 'integer', nullable: true })
  usageTotal: number | null;

  @Column({ name: 'usage_cache_read', type: 'integer', nullable: true })
  usageCacheRead: number | null;

  @Column({ name: 'usage_cache_write', type: 'integer', nullable: true })
  usageCacheWrite: number | null;

  @Column({ name: 'usage_reasoning', type: 'integer', nullable: true })
  usageReasoning: number | null;

  @Column({ name: 'cost_usd', type: 'numeric', nullable: true })
  costUsd: string | null;

  /** `client` (sent with the step) or `price` (computed from the model price in cost_price). */
  @Column({ name: 'cost_source', type: 'text', nullable: true })
  costSource: string | null;

  /** The model price a computed cost used, as it was then. */
  @Column({ name: 'cost_price', type: 'jsonb', nullable: true })
  costPrice: Record<string, unknown> | null;

  @Column({ name: 'time_to_first_token_ms', type: 'double precision', nullable: true })
  timeToFirstTokenMs: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt: Date;
}
