import type { Queryable } from './queryable.js';
import { query, type Sql, sql } from './sql.js';

/**
 * Which steps of its run rejected a scored item, kept on the candidate score itself
 * (`scores.rejected_steps`, the step ids, and `scores.rejected_names`, their names, in the same
 * order), so the cross-run question "which step drops what users wanted?" reads scores alone
 * instead of probing the candidates of every scored item (11.7 s on 100k runs with a million
 * scores when it did).
 *
 * Kept exact by the two writers that can change it, in their own transactions:
 * - a candidate score, when it is created: its item's rejections as stored then, read whole;
 * - every candidate batch, for the scores of its runs and keys (a rejection that arrives after
 *   the score, or a replay that changes a decision): a change to each score row's current value.
 * A creation and a batch would miss each other if they ran at once (each reading before the
 * other commits), so both take a transaction-scoped advisory lock per run first: exclusive for
 * a score's creation, shared for candidate batches (they never wait for each other; their
 * changes to one score row are applied one after the other by the row's own lock). Deleting a
 * run, erasing a key and retention remove the scores with the candidates, so nothing else
 * moves it.
 */

/** The advisory lock class of a run's score rejections (the run is the second key). */
const REJECTIONS_LOCK = 0x7872_7372;

/** A run id as the lock's second key: its first 32 bits (a collision only serialises two runs). */
const lockKeyOf = (runId: string): number => parseInt(runId.slice(0, 8), 16) | 0;

/**
 * Takes the runs' rejection locks for the rest of the transaction, in one order (no deadlock
 * between two writers that need several). Must come in a statement before the one that reads
 * what the lock protects, so that statement's snapshot sees what a waited-for writer committed:
 * a score's creation takes it before its INSERT, a candidate batch after writing its rows.
 */
export async function lockRunRejections(db: Queryable, runIds: Iterable<string>, mode: 'shared' | 'exclusive'): Promise<void> {
  const keys = [...new Set([...runIds].map(lockKeyOf))].sort((a, b) => a - b);
  if (keys.length === 0) return;
  const fn = sql.raw(mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock');
  await query(db, sql`SELECT ${fn}(${REJECTIONS_LOCK}::int, k) FROM unnest(${keys}::int[]) WITH ORDINALITY AS x(k, i) ORDER BY i`);
}

/**
 * The steps that rejected a scored item in its run, as one row (`steps`, `names`; null when
 * none did), for the score row `s` (its project, run, run start and key). The item's
 * candidates are found by key in its run's day (the lineage index).
 */
export function rejectionsOf(projectId: string, s: Sql): Sql {
  return sql`SELECT array_agg(st.id ORDER BY st.id) AS steps, array_agg(st.name ORDER BY st.id) AS names
    FROM candidates c
    JOIN steps st ON st.project_id = c.project_id AND st.id = c.step_id AND st.run_id = c.run_id AND st.run_started_at = c.run_started_at
    WHERE c.project_id = ${projectId}::uuid AND c.key = ${s}.candidate_key AND c.run_id = ${s}.run_id AND c.run_started_at = ${s}.run_started_at
      AND c.decision = 'rejected'`;
}

/**
 * Sets the rejection columns of the project's candidate scores that `where` (over `s2`) picks,
 * from the candidates stored now; rows already right are left alone (the migration that added
 * them, and the seed script).
 */
export function refreshRejectionsSql(projectId: string, where: Sql): Sql {
  return sql`UPDATE scores sc SET rejected_steps = n.steps, rejected_names = n.names
    FROM (
      SELECT s2.project_id, s2.id, s2.run_started_at, r.steps, r.names FROM scores s2
      CROSS JOIN LATERAL (${rejectionsOf(projectId, sql.raw('s2'))}) r
      WHERE s2.project_id = ${projectId}::uuid AND s2.candidate_key IS NOT NULL AND ${where}
    ) n
    WHERE sc.project_id = n.project_id AND sc.id = n.id AND sc.run_started_at = n.run_started_at
      AND (sc.rejected_steps IS DISTINCT FROM n.steps OR sc.rejected_names IS DISTINCT FROM n.names)`;
}

/** One written candidate, as the rejections of its item's scores need it. */
export interface WrittenDecision {
  step: { id: string; name: string; runId: string; runStartedAt: Date };
  key: string;
  rejected: boolean;
}

/**
 * After a candidate batch was written: moves the rejections recorded on the scores of its runs'
 * items by what the batch says, as a change to each score row's current value (the batch's
 * steps taken out, those that now reject the item put back). Two batches that touch the same
 * score at once therefore both count: the second applies its change to the row the first
 * committed. A score being created takes the runs' lock exclusively (it reads the candidates
 * whole), so this takes it shared first.
 */
export async function moveRejectionsOfCandidates(db: Queryable, projectId: string, written: WrittenDecision[]): Promise<void> {
  if (written.length === 0) return;
  const runIds = [...new Set(written.map((w) => w.step.runId))];
  const starts = [...new Set(written.map((w) => w.step.runStartedAt.toISOString()))];
  await lockRunRejections(db, runIds, 'shared');
  // Most batches' runs have no candidate scores: then the batch is not sent again.
  const scored = await query(
    db,
    sql`SELECT 1 FROM scores WHERE project_id = ${projectId}::uuid AND run_id = ANY(${runIds}::uuid[])
          AND run_started_at = ANY(${starts}::timestamptz[]) AND candidate_key IS NOT NULL LIMIT 1`,
  );
  if (scored.length === 0) return;
  const col = <T>(f: (w: WrittenDecision) => T) => written.map(f);
  const touched = sql`sc.project_id = ${projectId}::uuid AND sc.candidate_key IS NOT NULL
          AND sc.run_id = d.run_id AND sc.run_started_at = d.run_started_at AND sc.candidate_key = d.key
          AND sc.run_id = ANY(${runIds}::uuid[])`;
  await query(
    db,
    sql`WITH d AS (
          SELECT x.run_id, x.run_started_at, x.key, array_agg(x.step_id) AS touched,
                 array_agg(x.step_id) FILTER (WHERE x.rejected) AS rej_steps, array_agg(x.step_name) FILTER (WHERE x.rejected) AS rej_names
          FROM unnest(${col((w) => w.step.id)}::uuid[], ${col((w) => w.step.name)}::text[], ${col((w) => w.step.runId)}::uuid[],
                      ${col((w) => w.step.runStartedAt.toISOString())}::timestamptz[], ${col((w) => w.key)}::text[], ${col((w) => w.rejected)}::boolean[])
            AS x(step_id, step_name, run_id, run_started_at, key, rejected)
          GROUP BY x.run_id, x.run_started_at, x.key
        ),
        old AS (SELECT * FROM (
          SELECT sc.id, sc.run_started_at, sc.rejected_names FROM scores sc JOIN d ON true WHERE ${touched} FOR UPDATE OF sc
        ) locked),
        moved AS (
          UPDATE scores sc SET (rejected_steps, rejected_names) = (
            SELECT array_agg(e.id ORDER BY e.id), array_agg(e.name ORDER BY e.id) FROM (
              SELECT u.id, u.name FROM unnest(sc.rejected_steps, sc.rejected_names) AS u(id, name) WHERE u.id <> ALL(d.touched)
              UNION ALL
              SELECT v.id, v.name FROM unnest(d.rej_steps, d.rej_names) AS v(id, name)
            ) e
          )
          FROM d, old
          WHERE ${touched} AND old.id = sc.id AND old.run_started_at = sc.run_started_at
          RETURNING sc.id, sc.run_id, sc.run_started_at, sc.candidate_key, sc.name, sc.created_at, sc.data_type, sc.value_number, sc.value_bool, sc.value_label,
                    sc.rejected_names, old.rejected_names AS old_names
        ),
        -- Only an item's latest score counts (creations and deletions, which could change which one
        -- that is, wait for the run's lock this batch holds).
        latest AS (
          SELECT m.* FROM moved m
          WHERE m.rejected_names IS DISTINCT FROM m.old_names AND NOT EXISTS (
            SELECT 1 FROM scores s2 WHERE s2.project_id = ${projectId}::uuid AND s2.run_id = m.run_id AND s2.run_started_at = m.run_started_at
              AND s2.candidate_key = m.candidate_key AND s2.name = m.name AND (s2.created_at, s2.id) > (m.created_at, m.id))
        ),
        contribution AS (
          SELECT l.run_id, l.run_started_at, l.name, u.step_name, l.data_type, l.value_number, l.value_bool, l.value_label, 1 AS items
          FROM latest l CROSS JOIN LATERAL unnest(l.rejected_names) AS u(step_name)
          UNION ALL
          SELECT l.run_id, l.run_started_at, l.name, u.step_name, l.data_type, l.value_number, l.value_bool, l.value_label, -1
          FROM latest l CROSS JOIN LATERAL unnest(l.old_names) AS u(step_name)
        )
        ${upsertRollup(projectId, 'contribution')}`,
  );
}

/**
 * The rollup upsert (a statement's last part) for the rows of the relation `from`: run_id,
 * run_started_at, name, step_name (`''` for the item totals), data_type, the value columns and
 * `items`, a signed count. Groups that sum to zero are not written.
 */
function upsertRollup(projectId: string, from: string): Sql {
  return sql`INSERT INTO score_rejections_hourly AS t (project_id, pipeline, hour, name, step_name, data_type, value_key, value_number, value_bool, value_label, items)
    SELECT ${projectId}::uuid, r.pipeline, date_trunc('hour', x.run_started_at, 'UTC'), x.name, x.step_name, x.data_type,
           COALESCE(x.value_label, x.value_bool::text, x.value_number::text, ''), x.value_number, x.value_bool, x.value_label, sum(x.items)::int
    FROM ${sql.raw(from)} x JOIN runs r ON r.project_id = ${projectId}::uuid AND r.id = x.run_id
    GROUP BY r.pipeline, 3, x.name, x.step_name, x.data_type, 7, x.value_number, x.value_bool, x.value_label
    HAVING sum(x.items) <> 0
    ON CONFLICT (project_id, pipeline, hour, name, step_name, data_type, value_key) DO UPDATE SET items = t.items + EXCLUDED.items`;
}

/** A candidate score's item as the question counts it: once per run, key and score name. */
export interface ScoredItem {
  runId: string;
  runStartedAt: Date;
  key: string;
  name: string;
}

/**
 * Moves the rejection rollup by the contribution of the latest candidate score of each item
 * (those named, or those of the scores `where` picks over the scores row `sc`), as stored now,
 * `sign` times: -1 before a write that may change an item's latest score, +1 after it (the
 * caller holds the runs' exclusive lock, so no candidate batch moves those scores in between),
 * or -1 alone before the items' scores are deleted. Named items are looked up one by one on the
 * item index (`idx_scores_item`).
 */
export async function moveRejectionRollup(db: Queryable, projectId: string, of: { items: ScoredItem[] } | { where: Sql }, sign: 1 | -1): Promise<void> {
  if ('items' in of && of.items.length === 0) return;
  // Named items: each one's newest score, read backwards on the item index (idx_scores_item).
  const latest =
    'items' in of
      ? sql`SELECT sc.run_id, sc.run_started_at, sc.name, sc.data_type, sc.value_number, sc.value_bool, sc.value_label, sc.rejected_names
          FROM (SELECT DISTINCT * FROM unnest(${of.items.map((i) => i.runId)}::uuid[], ${of.items.map((i) => i.runStartedAt.toISOString())}::timestamptz[],
                       ${of.items.map((i) => i.key)}::text[], ${of.items.map((i) => i.name)}::text[]) AS i(run_id, run_started_at, key, name)) i
          CROSS JOIN LATERAL (
            SELECT * FROM scores sc
            WHERE sc.project_id = ${projectId}::uuid AND sc.candidate_key IS NOT NULL AND sc.run_id = i.run_id AND sc.run_started_at = i.run_started_at
              AND sc.candidate_key = i.key AND sc.name = i.name
            ORDER BY sc.created_at DESC, sc.id DESC LIMIT 1
          ) sc`
      : sql`SELECT DISTINCT ON (sc.run_id, sc.candidate_key, sc.name) sc.run_id, sc.run_started_at, sc.name, sc.data_type, sc.value_number, sc.value_bool,
                 sc.value_label, sc.rejected_names
          FROM scores sc WHERE sc.project_id = ${projectId}::uuid AND sc.candidate_key IS NOT NULL AND ${of.where}
          ORDER BY sc.run_id, sc.candidate_key, sc.name, sc.created_at DESC, sc.id DESC`;
  await query(
    db,
    sql`WITH latest AS (${latest}),
        contribution AS (
          SELECT l.run_id, l.run_started_at, l.name, '' AS step_name, l.data_type, l.value_number, l.value_bool, l.value_label, ${sign}::int AS items FROM latest l
          UNION ALL
          SELECT l.run_id, l.run_started_at, l.name, u.step_name, l.data_type, l.value_number, l.value_bool, l.value_label, ${sign}::int
          FROM latest l CROSS JOIN LATERAL unnest(l.rejected_names) AS u(step_name)
        )
        ${upsertRollup(projectId, 'contribution')}`,
  );
}

/**
 * Fills the rollup of a project's candidate scores from scratch (the migration that added it,
 * and the seed script): its rows are deleted, then every item's latest score counted once.
 */
export async function rebuildRejectionRollup(db: Queryable, projectId: string): Promise<void> {
  await query(db, sql`DELETE FROM score_rejections_hourly WHERE project_id = ${projectId}::uuid`);
  await moveRejectionRollup(db, projectId, { where: sql`true` }, 1);
}
