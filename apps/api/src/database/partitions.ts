import type { Queryable } from './queryable.js';

/**
 * Time partitions. Steps and candidates are partitioned by their run's start, the hourly
 * rollups by their hour (the hour of the run's start), ingest event ids by when they arrived:
 * one partition per UTC day, named `<table>_dYYYYMMDD`, so a day of data leaves by dropping
 * its partitions (retention) instead of deleting rows.
 */

/** The partitioned tables and the column each is partitioned by. */
export const PARTITIONED_TABLES = [
  { table: 'steps', column: 'run_started_at' },
  { table: 'candidates', column: 'run_started_at' },
  { table: 'scores', column: 'run_started_at' },
  { table: 'step_stats_hourly', column: 'hour' },
  { table: 'step_durations_hourly', column: 'hour' },
  { table: 'reason_counts_hourly', column: 'hour' },
  { table: 'run_stats_hourly', column: 'hour' },
  { table: 'llm_usage_hourly', column: 'hour' },
  { table: 'model_durations_hourly', column: 'hour' },
  { table: 'score_rejections_hourly', column: 'hour' },
  { table: 'score_values_hourly', column: 'hour' },
  { table: 'ingest_events', column: 'created_at' },
] as const;

export type PartitionedTable = (typeof PARTITIONED_TABLES)[number]['table'];

const DAY_MS = 86_400_000;

/** The UTC day (midnight) a time falls in. */
export function dayOf(time: Date | number): Date {
  const ms = typeof time === 'number' ? time : time.getTime();
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS);
}

export const addDays = (day: Date, days: number): Date => new Date(day.getTime() + days * DAY_MS);

/** `YYYYMMDD` of a UTC day. */
export const dayKey = (day: Date): string => day.toISOString().slice(0, 10).replaceAll('-', '');

export const partitionName = (table: PartitionedTable, day: Date): string => `${table}_d${dayKey(day)}`;

/** The day a partition name stands for, or null for a name that is not a day partition. */
export function dayOfPartition(name: string): Date | null {
  const m = /_d(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
}

/**
 * Creates the day's partition of each table named, where missing. Each is its own statement
 * (run outside any writer's transaction: creating a partition briefly locks its parent); a
 * partition another process created at the same moment is not an error.
 */
export async function createDayPartitions(
  db: Queryable,
  day: Date,
  tables: readonly PartitionedTable[] = PARTITIONED_TABLES.map((t) => t.table),
): Promise<void> {
  const from = day.toISOString();
  const to = addDays(day, 1).toISOString();
  for (const table of tables) {
    try {
      await db.query(`CREATE TABLE IF NOT EXISTS "${partitionName(table, day)}" PARTITION OF "${table}" FOR VALUES FROM ('${from}') TO ('${to}')`);
    } catch (err) {
      // 42P07 duplicate_table / 23505 on pg_type: created concurrently by another process.
      const code = (err as { code?: string }).code;
      if (code !== '42P07' && code !== '23505') throw err;
    }
  }
}

/** The day partitions of a table that exist, oldest first. */
export async function listDayPartitions(db: Queryable, table: PartitionedTable): Promise<{ name: string; day: Date }[]> {
  const rows = await db.query<{ name: string }[]>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass`,
    [table],
  );
  return rows
    .map((r) => ({ name: r.name, day: dayOfPartition(r.name) }))
    .filter((p): p is { name: string; day: Date } => p.day !== null)
    .sort((a, b) => a.day.getTime() - b.day.getTime());
}

/**
 * The partitions a running server needs: each day's, created ahead (today and the next week, on
 * start and on every sweep) and on demand for a run that starts on a day without them (a
 * client's own start time, an import of old data). Known days are remembered, so the writers'
 * check costs nothing after the first time.
 */
export class DayPartitions {
  private readonly known = new Set<number>();

  constructor(private readonly db: Queryable) {}

  /** Makes sure the partitions of the days these times fall in exist. Call outside any transaction. */
  async ensure(times: Iterable<Date>): Promise<void> {
    for (const time of times) {
      const day = dayOf(time);
      if (Number.isNaN(day.getTime()) || this.known.has(day.getTime())) continue;
      await createDayPartitions(this.db, day);
      this.known.add(day.getTime());
    }
  }

  /** Today's partitions and the next `days` days'. */
  async ensureAhead(now: Date, days = 7): Promise<void> {
    const today = dayOf(now);
    await this.ensure(Array.from({ length: days + 2 }, (_, i) => addDays(today, i - 1)));
  }

  /** Forgets a day (its partitions were dropped), so a later write creates them again. */
  forget(day: Date): void {
    this.known.delete(dayOf(day).getTime());
  }
}

/**
 * Drops the day partitions of `tables` older than `before` (a UTC midnight): each in its own
 * short transaction that waits at most `lockTimeoutMs` for its parent's lock, so a busy table
 * is retried at the next sweep instead of holding ingest up. Answers the partitions dropped.
 */
export async function dropDayPartitionsBefore(
  db: Queryable,
  transaction: (work: (tx: Queryable) => Promise<void>) => Promise<void>,
  before: Date,
  tables: readonly PartitionedTable[],
  lockTimeoutMs = 5_000,
): Promise<{ table: PartitionedTable; name: string; day: Date }[]> {
  const dropped: { table: PartitionedTable; name: string; day: Date }[] = [];
  for (const table of tables) {
    for (const p of await listDayPartitions(db, table)) {
      if (p.day.getTime() >= before.getTime()) break;
      await transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
        await tx.query(`DROP TABLE IF EXISTS "${p.name}"`);
      });
      dropped.push({ table, ...p });
    }
  }
  return dropped;
}
