import type { Queryable } from './queryable.js';

/**
 * The one way statements are written: a tagged template. Every `${value}` becomes a bound
 * parameter ($1, $2, …), never text in the statement; a `${fragment}` built with `sql` (or
 * `sql.join`, `sql.raw`) nests with its own parameters renumbered. Conditional parts (a filter
 * that is present, the columns an update sends) are fragments chosen in code, so no statement is
 * assembled from strings and no placeholder number is counted by hand.
 *
 *   const where = [sql`project_id = ${projectId}`, ...(q.status ? [sql`status = ${q.status}`] : [])];
 *   await query(db, sql`SELECT id FROM runs WHERE ${sql.join(where, ' AND ')} LIMIT ${limit}`);
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  /** The statement text with $n placeholders and its parameters, in order. */
  toQuery(): { text: string; values: unknown[] } {
    const values: unknown[] = [];
    const text = this.render(values);
    return { text, values };
  }

  private render(values: unknown[]): string {
    let text = this.strings[0];
    this.values.forEach((value, i) => {
      if (value instanceof Sql) text += value.render(values);
      else {
        values.push(value);
        text += `$${values.length}`;
      }
      text += this.strings[i + 1];
    });
    return text;
  }
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Fragments joined by a separator (`, `, ` AND `…). */
sql.join = (fragments: readonly Sql[], separator: string): Sql =>
  fragments.length === 0 ? new Sql([''], []) : new Sql(['', ...fragments.slice(1).map(() => separator), ''], fragments);

/**
 * SQL text written in our code (a column list, an identifier from a fixed table), never text
 * that came from a request.
 */
sql.raw = (text: string): Sql => new Sql([text], []);

/** Runs a statement; answers its rows (for an UPDATE without RETURNING, the driver's answer). */
export async function query<T = Record<string, unknown>>(db: Queryable, statement: Sql): Promise<T[]> {
  const { text, values } = statement.toQuery();
  return db.query<T[]>(text, values);
}

/** The rows an UPDATE … RETURNING changed (TypeORM answers `[rows, count]` for UPDATE and DELETE). */
export async function queryChanged<T = Record<string, unknown>>(db: Queryable, statement: Sql): Promise<T[]> {
  const { text, values } = statement.toQuery();
  const [rows] = await db.query<[T[], number]>(text, values);
  return rows;
}
