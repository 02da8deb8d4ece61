import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Event ids the batch endpoint has applied, per project, so a replayed event is answered with
 * its earlier result instead of being applied again. Rows expire after the dedupe window.
 */
@Entity({ name: 'ingest_events' })
@Index('idx_ingest_events_created', ['createdAt'])
export class IngestEvent {
  @PrimaryColumn({ name: 'project_id', type: 'uuid' })
  projectId: string;

  @PrimaryColumn({ name: 'event_id', type: 'text' })
  eventId: string;

  @Column({ type: 'smallint' })
  status: number;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt: Date;
}
