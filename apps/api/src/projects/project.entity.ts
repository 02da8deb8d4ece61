import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A team's workspace; every other row belongs to exactly one project. */
@Entity({ name: 'projects' })
export class Project {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ type: 'text', unique: true })
  name: string;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt: Date;

  /** Days the project keeps its runs (older ones are deleted); null: the server's default. */
  @Column({ name: 'retention_days', type: 'integer', nullable: true })
  retentionDays: number | null;
}
