import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Event ids the batch endpoint has applied, per project, so a replayed event is answered with
 * its earlier result instead of being applied again. Partitioned by day of arrival (migration
 * PartitionedStorage); a day's partition is dropped once it is past the dedupe window.
 */
@Entity({ name: 'ingest_events' })
export class IngestEvent {
  @PrimaryColumn({ name: 'project_id', type: 'uuid', primaryKeyConstraintName: 'pk_ingest_events' })
  projectId: string;

  @PrimaryColumn({ name: 'event_id', type: 'text', primaryKeyConstraintName: 'pk_ingest_events' })
  eventId: string;

  @Column({ type: 'smallint' })
  status: number;

  @PrimaryColumn({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()', primaryKeyConstraintName: 'pk_ingest_events' })
  createdAt: Date;
}
