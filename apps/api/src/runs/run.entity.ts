import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { Project } from '../projects/project.entity.js';

import type { RunStatus } from '../domain/vocabulary.js';

export interface ErrorInfo {
  type?: string;
  message: string;
  stack?: string;
}

/** One execution of a pipeline. */
@Entity({ name: 'runs' })
@Index('idx_runs_project_started', ['projectId', 'startedAt', 'id'])
@Index('idx_runs_started', ['startedAt'])
// Covering (INCLUDE status) for pipeline analytics; made by a migration.
@Index('idx_runs_project_pipeline_started', { synchronize: false })
@Index('idx_runs_project_status_started', ['projectId', 'status', 'startedAt', 'id'])
@Index('idx_runs_tags', { synchronize: false })
@Index('idx_runs_metadata', { synchronize: false })
@Index('idx_runs_search', { synchronize: false })
@Index('idx_runs_running', { synchronize: false })
@Index('idx_runs_project_cost', { synchronize: false })
@Index('idx_runs_project_tokens', { synchronize: false })
@Index('idx_runs_project_error_type_started', ['projectId', 'errorType', 'startedAt', 'id'])
@Check('chk_runs_ended_after_started', `"ended_at" IS NULL OR "ended_at" >= "started_at"`)
@Check('chk_runs_status', `"status" IN ('running', 'success', 'error', 'cancelled', 'timed_out')`)
export class Run {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_runs' })
  id: string;

  /** Ids are per project: the primary key is (project_id, id). */
  @PrimaryColumn({ name: 'project_id', type: 'uuid', primaryKeyConstraintName: 'pk_runs' })
  projectId: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Relation<Project>;

  @Column({ type: 'text' })
  pipeline: string;

  @Column({ name: 'pipeline_version', type: 'text', nullable: true })
  pipelineVersion: string | null;

  @Column({ type: 'text', default: 'running' })
  status: RunStatus;

  @Column({ type: 'jsonb', nullable: true })
  input: unknown;

  @Column({ type: 'jsonb', nullable: true })
  output: unknown;

  @Column({ type: 'jsonb', nullable: true })
  error: ErrorInfo | null;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  metadata: Record<string, unknown>;

  @Column({ type: 'text', array: true, default: () => `'{}'` })
  tags: string[];

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

  /** `error.type`, as a column so runs can be filtered by it through an index. */
  @Column({
    name: 'error_type',
    type: 'text',
    nullable: true,
    generatedType: 'STORED',
    asExpression: `"error" ->> 'type'`,
    insert: false,
    update: false,
  })
  errorType: string | null;

  /** Text searched by `q`: the pipeline name and the error message. */
  @Column({
    name: 'search',
    type: 'tsvector',
    generatedType: 'STORED',
    asExpression: `to_tsvector('simple'::regconfig, coalesce("pipeline", '') || ' ' || coalesce("error" ->> 'message', ''))`,
    insert: false,
    update: false,
    select: false,
  })
  search: string;

  /** Its steps' token usage and cost, summed by the step writers' statements (database/rollups.ts). */
  @Column({ name: 'total_input_tokens', type: 'bigint', default: 0 })
  totalInputTokens: string;

  @Column({ name: 'total_output_tokens', type: 'bigint', default: 0 })
  totalOutputTokens: string;

  @Column({ name: 'total_tokens', type: 'bigint', default: 0 })
  totalTokens: string;

  @Column({ name: 'total_cost_usd', type: 'numeric', default: 0 })
  totalCostUsd: string;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt: Date;
}
