import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Decision } from '../domain/vocabulary.js';

export interface Evaluation {
  check: string;
  passed: boolean;
  detail?: string;
}

/**
 * An item a step evaluated, with its decision and the reason for it. The table is partitioned by
 * day of `run_started_at` (the run's start), which TypeORM does not model: the migration
 * PartitionedStorage creates it. No identity column and no foreign keys: the key (project, step,
 * item key, run, run start) is the idempotency key, and the batch statement checks the step's owner.
 */
@Entity({ name: 'candidates' })
@Index('idx_candidates_project_key', ['projectId', 'key'])
@Check('chk_candidates_decision', `"decision" IN ('accepted', 'rejected', 'selected')`)
export class Candidate {
  @PrimaryColumn({ name: 'project_id', type: 'uuid', primaryKeyConstraintName: 'pk_candidates' })
  projectId: string;

  @PrimaryColumn({ name: 'run_id', type: 'uuid', primaryKeyConstraintName: 'pk_candidates' })
  runId: string;

  @PrimaryColumn({ name: 'step_id', type: 'uuid', primaryKeyConstraintName: 'pk_candidates' })
  stepId: string;

  @PrimaryColumn({ name: 'run_started_at', type: 'timestamptz', precision: 3, primaryKeyConstraintName: 'pk_candidates' })
  runStartedAt: Date;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'pk_candidates' })
  key: string;


  @Column({ type: 'text' })
  decision: Decision;

  @Column({ type: 'double precision', nullable: true })
  score: number | null;

  @Column({ type: 'integer', nullable: true })
  rank: number | null;

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @Column({ type: 'jsonb', nullable: true })
  evaluations: Evaluation[] | null;

  @Column({ type: 'jsonb', nullable: true })
  data: unknown;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt: Date;
}
