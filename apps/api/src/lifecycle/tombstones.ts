import { type Sql, sql } from '../database/sql.js';

/**
 * Tombstones of deleted runs and erased candidate keys, as SQL fragments for the statements that
 * create runs and candidates (runs and candidates repositories), so a replayed event never brings
 * deleted data back. This file imports nothing but the tagged template: the runs and candidates
 * modules use it without depending on the rest of the lifecycle module.
 *
 * Steps need no check of their own: a step's run must exist (foreign key, and the create paths
 * look it up), and a deleted run is gone with all its steps.
 */

/** The SHA-256 of a key's UTF-8 bytes: what erased_keys keeps instead of the key. */
export const keyHash = (key: Sql): Sql => sql`sha256(convert_to(${key}, 'UTF8'))`;

/** True unless run `runId` (an expression) of the project was deleted. */
export const runNotDeleted = (projectId: string, runId: Sql): Sql =>
  sql`NOT EXISTS (SELECT 1 FROM deleted_runs WHERE project_id = ${projectId}::uuid AND run_id = ${runId})`;

/**
 * True unless candidate key `key` (an expression) was erased in the project. The first test is
 * evaluated once per statement, so a project that never erased anything (nearly all) computes
 * no hash per candidate.
 */
export const keyNotErased = (projectId: string, key: Sql): Sql =>
  sql`(NOT EXISTS (SELECT 1 FROM erased_keys WHERE project_id = ${projectId}::uuid)
    OR NOT EXISTS (SELECT 1 FROM erased_keys WHERE project_id = ${projectId}::uuid AND key_hash = ${keyHash(key)}))`;

/** Whether run `runId` of the project was deleted (its tombstone), as one boolean column `deleted`. */
export const runDeletedQuery = (projectId: string, runId: string): Sql =>
  sql`SELECT EXISTS (SELECT 1 FROM deleted_runs WHERE project_id = ${projectId}::uuid AND run_id = ${runId}::uuid) AS deleted`;
