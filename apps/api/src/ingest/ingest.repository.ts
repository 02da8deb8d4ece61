import { Injectable } from '@nestjs/common';
import type { Queryable } from '../database/queryable.js';
import { query, sql } from '../database/sql.js';
import type { StoredState } from './ingest-plan.js';

/** The SQL of the ingest module: the ids of applied events (ingest_events), and what a batch needs to read first. */
@Injectable()
export class IngestRepository {
  /**
   * Reads, in one statement, the batch's events applied before, the runs and steps it names
   * that the project holds (ids are the project's own: another project's run or step with the
   * same id is a different one), and which of its runs the project deleted (their tombstones).
   * Event ids are probed one by one on the primary key (LIMIT keeps the lateral
   * lookup a loop; see the note on project checks in database/queryable.ts for why the shape matters).
   */
  async findStoredState(
    db: Queryable,
    projectId: string,
    ids: { events: string[]; runs: string[]; steps: string[] },
  ): Promise<StoredState & { deletedRuns: Set<string> }> {
    const rows = await query<{ kind: 'event' | 'run' | 'step' | 'deleted'; id: string; project_id: string | null; ref: string }>(
      db,
      sql`SELECT 'event' AS kind, e.id, NULL::uuid AS project_id, seen.status::text AS ref
         FROM unnest(${ids.events}::text[]) AS e(id)
         CROSS JOIN LATERAL (SELECT status FROM ingest_events WHERE project_id = ${projectId} AND event_id = e.id ORDER BY created_at LIMIT 1) seen
       UNION ALL SELECT 'run', id::text, project_id, pipeline FROM runs WHERE project_id = ${projectId} AND id = ANY(${ids.runs}::uuid[])
       UNION ALL SELECT 'step', id::text, project_id, run_id::text FROM steps WHERE project_id = ${projectId} AND id = ANY(${ids.steps}::uuid[])
       UNION ALL SELECT 'deleted', run_id::text, NULL, NULL FROM deleted_runs WHERE project_id = ${projectId}::uuid AND run_id = ANY(${ids.runs}::uuid[])`,
    );
    const seen = new Map<string, number>();
    const runOwners = new Map<string, { projectId: string; pipeline: string }>();
    const stepOwners = new Map<string, { projectId: string; runId: string }>();
    const deletedRuns = new Set<string>();
    for (const r of rows) {
      if (r.kind === 'event') seen.set(r.id, Number(r.ref));
      else if (r.kind === 'deleted') deletedRuns.add(r.id);
      else if (r.kind === 'run') runOwners.set(r.id, { projectId: r.project_id!, pipeline: r.ref });
      else stepOwners.set(r.id, { projectId: r.project_id!, runId: r.ref });
    }
    return { seen, runOwners, stepOwners, deletedRuns };
  }

  /** Remembers applied events with the status they answered (an id already remembered keeps its first). */
  async rememberEvents(db: Queryable, projectId: string, applied: ReadonlyMap<string, number>): Promise<void> {
    if (applied.size === 0) return;
    await query(
      db,
      sql`INSERT INTO ingest_events (project_id, event_id, status)
       SELECT ${projectId}::uuid, e, s FROM unnest(${[...applied.keys()]}::text[], ${[...applied.values()]}::smallint[]) AS t(e, s)
       ON CONFLICT DO NOTHING`,
    );
  }
}
