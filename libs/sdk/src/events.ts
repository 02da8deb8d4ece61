import type { IngestEventDto } from './generated/types.gen.js';

/** What an ingest event does. */
export type EventType = IngestEventDto['type'];
