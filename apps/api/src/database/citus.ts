import { dayOfPartition } from './partitions.js';
import type { Queryable } from './queryable.js';

/**
 * Running on a Citus cluster (PostgreSQL distributed over worker nodes). Pointed at a Citus
 * coordinator, the migrations distribute the high-volume tables and make the small ones reference
 * tables (copied to every node); every statement of the API stays the same.
 *
 * Which table becomes what is decided from the catalog, not from a list of columns, so tables
 * and columns added by later migrations are covered the same way:
 * - left alone: TypeORM's `migrations` and unlogged tables (the rate-limit counters: worth
 *   nothing after a crash, written on every request; they stay on the coordinator);
 * - reference tables: the per-project configuration and bookkeeping (projects, keys, score
 *   configurations, the deletion log and tombstones) and any table without `project_id` in its
 *   primary key;
 * - distributed, co-located tables: every other table (runs, steps, candidates, scores, ingest
 *   event ids, the hourly and daily rollups), hashed by `project_id` (see bench/RESULTS.md for the
 *   measurement that chose it over `run_id`). Partitioned tables are distributed with their
 *   partitions; a partition created later (the server's day partitions) is distributed by Citus
 *   as it is attached.
 */

/** Small tables every node keeps a copy of, whatever their keys. */
const REFERENCE_TABLES = new Set(['projects', 'api_keys', 'score_configs', 'deletion_log', 'deleted_runs', 'erased_keys']);
/** Tables left as they are (on the coordinator). */
const LOCAL_TABLES = new Set(['migrations', 'typeorm_metadata']);

export const CITUS_DISTRIBUTION_COLUMN = 'project_id';

/** Whether the database is a Citus coordinator (the citus extension is installed in it). */
export async function citusInstalled(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'citus'`);
  return rows[0].n > 0;
}

export interface TablePlan {
  table: string;
  kind: 'reference' | 'distributed' | 'local';
  /** Distributed tables: the column rows are hashed by. */
  column?: string;
}

/** What each table of the public schema becomes (tables already distributed or reference tables are left out). */
export async function planDistribution(db: Queryable): Promise<TablePlan[]> {
  const tables = await db.query<{ name: string; unlogged: boolean; pk: string[] | null; distributed: boolean }[]>(
    `SELECT c.relname AS name, c.relpersistence = 'u' AS unlogged,
            (SELECT array_agg(a.attname::text) FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
             WHERE k.conrelid = c.oid AND k.contype = 'p') AS pk,
            EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid AND (d.partmethod = 'h' OR d.repmodel = 't')) AS distributed
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     ORDER BY c.relname`,
  );
  return tables
    .filter((t) => !t.distributed)
    .map((t): TablePlan => {
      if (LOCAL_TABLES.has(t.name) || t.unlogged) return { table: t.name, kind: 'local' };
      if (REFERENCE_TABLES.has(t.name) || !(t.pk ?? []).includes(CITUS_DISTRIBUTION_COLUMN)) return { table: t.name, kind: 'reference' };
      return { table: t.name, kind: 'distributed', column: CITUS_DISTRIBUTION_COLUMN };
    });
}

export interface DistributeOptions {
  /** Shards per distributed table (Citus's `citus.shard_count` when unset). */
  shardCount?: number;
  log?: (line: string) => void;
}

/**
 * Makes the reference tables and distributes the others, co-located with `runs`. Idempotent:
 * tables already distributed are skipped. Existing rows are moved to the workers by Citus (in
 * place: no export needed), so this also serves `xray citus:distribute` on a database that was
 * created before Citus was installed.
 */
export async function distributeTables(db: Queryable, options: DistributeOptions = {}): Promise<TablePlan[]> {
  const log = options.log ?? (() => undefined);
  const plan = await planDistribution(db);
  // Reference tables and distributed tables referencing them are created in one transaction:
  // Citus then has to use one connection per node for it.
  await db.query(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
  // A table referenced by foreign keys becomes a reference table before the tables referencing it.
  const edges = await db.query<{ from: string; to: string }[]>(
    `SELECT conrelid::regclass::text AS from, confrelid::regclass::text AS to FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid`,
  );
  const pending = plan.filter((p) => p.kind === 'reference').map((p) => p.table);
  while (pending.length > 0) {
    const next = pending.find((t) => !edges.some((e) => e.from === t && e.to !== t && pending.includes(e.to))) ?? pending[0];
    pending.splice(pending.indexOf(next), 1);
    log(`reference table ${next}`);
    await db.query(`SELECT create_reference_table($1)`, [next]);
  }
  const distributed = plan.filter((p) => p.kind === 'distributed');
  // runs first: the others are co-located with it.
  distributed.sort((a, b) => Number(b.table === 'runs') - Number(a.table === 'runs'));
  // (A table linked to a reference table by a foreign key is already in Citus's metadata as a
  // "local" table until it is distributed: only hash-distributed ones count.)
  const colocated = await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_dist_partition WHERE logicalrelid::text = 'runs' AND partmethod = 'h'`);
  let anchor: string | undefined = colocated[0].n > 0 ? 'runs' : undefined;
  for (const t of distributed) {
    log(`distributed table ${t.table} by ${t.column}`);
    if (anchor) {
      await db.query(`SELECT create_distributed_table($1, $2, colocate_with => $3)`, [t.table, t.column, anchor]);
    } else if (options.shardCount) {
      await db.query(`SELECT create_distributed_table($1, $2, shard_count => $3)`, [t.table, t.column, options.shardCount]);
      anchor = t.table;
    } else {
      await db.query(`SELECT create_distributed_table($1, $2)`, [t.table, t.column]);
      anchor = t.table;
    }
  }
  return plan;
}

/** The shard count the migration uses: XRAY_CITUS_SHARD_COUNT, else Citus's own setting. */
export function citusShardCount(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.XRAY_CITUS_SHARD_COUNT;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64000) throw new Error(`XRAY_CITUS_SHARD_COUNT must be a whole number from 1 to 64000, got ${raw}`);
  return n;
}

/**
 * Converts the day partitions of candidates older than `before` (a UTC midnight) to Citus's
 * columnar storage (compressed, read-only in practice: columnar rows cannot be updated or
 * deleted one by one, so a replay into such a day, an erasure touching it or a run deletion
 * fails until the day leaves by retention). Steps stay row-stored (their full-text index is a GIN
 * index, which columnar tables do not have). Answers the partitions converted; each is its own
 * statement, so a long conversion can be stopped and taken up again.
 */
export async function convertToColumnar(db: Queryable, before: Date, log: (line: string) => void = () => undefined): Promise<string[]> {
  const rows = await db.query<{ name: string; am: string | null }[]>(
    `SELECT c.relname AS name, am.amname AS am FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     LEFT JOIN pg_am am ON am.oid = c.relam WHERE i.inhparent = 'candidates'::regclass ORDER BY c.relname`,
  );
  // Columnar storage is its own extension (created on the workers too by Citus).
  await db.query('CREATE EXTENSION IF NOT EXISTS citus_columnar');
  const converted: string[] = [];
  for (const { name, am } of rows) {
    const day = dayOfPartition(name);
    if (!day || day.getTime() >= before.getTime() || am === 'columnar') continue;
    log(`converting ${name}`);
    await db.query(`SELECT alter_table_set_access_method($1, 'columnar')`, [name]);
    converted.push(name);
  }
  return converted;
}
