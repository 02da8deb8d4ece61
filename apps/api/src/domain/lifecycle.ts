import { isEnding } from './vocabulary.js';

/**
 * When runs and steps start and end: one definition for the single-row paths, the grouped
 * statements of batch ingest and inserts that carry their update.
 */

/**
 * How an update moves the end time: set to the endedAt sent, end now (or at the event's time)
 * if an ending status arrives, clear it when the status goes back to running, or keep it. An
 * end is never before the start and never moves once set (see the SQL in grouped-update.ts).
 */
export type EndChange = { mode: 'set'; endedAt: Date } | { mode: 'end'; at?: Date } | { mode: 'clear' } | { mode: 'keep' };

export function endChange(update: { status?: string; endedAt?: string }, eventTime?: Date): EndChange {
  if (update.endedAt !== undefined) return { mode: 'set', endedAt: new Date(update.endedAt) };
  if (isEnding(update.status)) return { mode: 'end', at: eventTime };
  if (update.status === 'running') return { mode: 'clear' };
  return { mode: 'keep' };
}

/**
 * The times a new run or step starts with: startedAt as sent, else the event's time, else now;
 * ended at once (never before its start) when it is created with an ending status.
 */
export function createdTimes(create: { status?: string; startedAt?: string; eventTime?: Date }, now = new Date()): { startedAt: Date; endedAt: Date | null } {
  const startedAt = create.startedAt ? new Date(create.startedAt) : (create.eventTime ?? now);
  const endedAt = isEnding(create.status) ? new Date(Math.max(startedAt.getTime(), (create.eventTime ?? now).getTime())) : null;
  return { startedAt, endedAt };
}
