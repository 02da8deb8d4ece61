/**
 * What a service needs to run SQL: the DataSource (each statement on its own), or the
 * EntityManager of a transaction (every statement on that transaction's connection).
 */
export interface Queryable {
  query<T = any>(query: string, parameters?: unknown[]): Promise<T>;
}
