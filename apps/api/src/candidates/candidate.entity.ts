import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { Decision } from '../domain/vocabulary.js';
import { Project } from '../projects/project.entity.js';
import { Run } from '../runs/run.entity.js';
import { Step } from '../steps/step.entity.js';

export interface Evaluation {
  check: string;
  passed: boolean;
  detail?: string;
}

/** An item a step evaluated, with its decision and the reason for it. */
@Entity({ name: 'candidates' })
@Index('uq_candidates_step_key', ['stepId', 'key'], { unique: true })
@Index('idx_candidates_step_decision', ['stepId', 'decision', 'id'])
@Index('idx_candidates_project_key', ['projectId', 'key', 'id'])
@Check('chk_candidates_decision', `"decision" IN ('accepted', 'rejected', 'selected')`)
export class Candidate {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'project_id', type: 'uuid' })
  projectId: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Relation<Project>;

  @Column({ name: 'run_id', type: 'uuid' })
  runId: string;

  @ManyToOne(() => Run, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'run_id' })
  run?: Relation<Run>;

  @Column({ name: 'step_id', type: 'uuid' })
  stepId: string;

  @ManyToOne(() => Step, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'step_id' })
  step?: Relation<Step>;

  @Column({ type: 'text' })
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

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt: Date;
}
