/**
 * What a service needs to run SQL: the DataSource (each statement on its own), or the
 * EntityManager of a transaction (every statement on that transaction's connection).
 */
export interface Queryable {
  query<T = any>(query: string, parameters?: unknown[]): Promise<T>;
}

/*
 * Project checks on primary-key lookups. Statements that reach rows by primary key (a batch's
 * steps, runs, events) also check the project, as `project_id IS NOT DISTINCT FROM $1`, not `=`:
 * the same test (project_id is never null) but one no index can serve. On a young or fast-
 * growing database the planner's statistics say a project has a few hundred rows when it has
 * tens of thousands, and with `=` it chose to read every row of the project through a
 * (project_id, …) index and filter by id: an ingest batch got slower as the project grew
 * (measured with auto_explain during `npm run bench -- ingest`: 6 ms per grouped step UPDATE
 * reading 14,000 rows, growing). With the check unindexable the lookup is by primary key.
 */
