import { columnsAs } from '../database/rollups.js';
import { type Sql, sql } from '../database/sql.js';
import { createdTimes, endChange } from '../domain/lifecycle.js';

/** The end-time rule (domain/lifecycle.ts) as the columns updatedColumns reads. */
function endedAtColumns(dto: { status?: string; endedAt?: string }, eventTime?: Date): { end_mode: string; ended_at?: string; event_time?: string } {
  const change = endChange(dto, eventTime);
  if (change.mode === 'set') return { end_mode: 'set', ended_at: change.endedAt.toISOString() };
  // Without an event time the end is now, taken here: Citus evaluates no now() inside a CASE.
  if (change.mode === 'end') return { end_mode: 'end', event_time: (change.at ?? new Date()).toISOString() };
  return { end_mode: change.mode };
}

/** A new row's start and end (domain/lifecycle.ts) as jsonb_to_recordset columns. */
export function createdTimeColumns(dto: { status?: string; startedAt?: string; eventTime?: Date }): { started_at: string; ended_at: string | null } {
  const { startedAt, endedAt } = createdTimes(dto);
  return { started_at: startedAt.toISOString(), ended_at: endedAt?.toISOString() ?? null };
}

/** A field an update may carry: its key in the request, its column, and how it is written. */
export interface UpdateField {
  key: string;
  column: string;
  /**
   * text, json, int, numeric and float replace (`json?` too, a JSON null as SQL NULL); merge is
   * jsonb `||`; text[] takes a JSON array of strings.
   */
  as: 'text' | 'json' | 'json?' | 'int' | 'numeric' | 'float' | 'merge' | 'text[]';
}

/** The fields every update (of a run or of a step) may carry. */
export const SHARED_UPDATE_FIELDS: UpdateField[] = [
  { key: 'status', column: 'status', as: 'text' },
  { key: 'output', column: 'output', as: 'json' },
  { key: 'error', column: 'error', as: 'json' },
  { key: 'metadata', column: 'metadata', as: 'merge' },
];

/** A column an update writes and the expression it takes. */
export type Assignment = [column: string, value: Sql];

/**
 * The columns an update writes (its fields, then ended_at), as SQL over the row's current
 * values (`cur`, a table alias) and the update's columns, named `${u}d` (the fields as sent:
 * only those present are written), `${u}end_mode`, `${u}ended_at` and `${u}event_time` (see
 * domain/lifecycle.ts). One definition serves the grouped UPDATE of existing rows and the insert of
 * new rows with their update already applied, so both leave the same row. Every name here comes
 * from our code (field lists, aliases), never from a request, so the fragments are raw text.
 */
export function updatedColumns(fields: UpdateField[], cur: string, u: string): Assignment[] {
  const value = ({ key, column, as }: UpdateField) => {
    switch (as) {
      case 'text':
        return `${u}d->>'${key}'`;
      case 'json':
        return `${u}d->'${key}'`;
      case 'json?':
        return `NULLIF(${u}d->'${key}', 'null'::jsonb)`;
      case 'int':
        return `(${u}d->>'${key}')::int`;
      case 'numeric':
        return `(${u}d->>'${key}')::numeric`;
      case 'float':
        return `(${u}d->>'${key}')::double precision`;
      case 'merge':
        return `${cur}.${column} || (${u}d->'${key}')`;
      case 'text[]':
        return `ARRAY(SELECT jsonb_array_elements_text(${u}d->'${key}'))`;
    }
  };
  return [
    ...fields.map((f): Assignment => [f.column, sql.raw(`CASE WHEN ${u}d ? '${f.key}' THEN ${value(f)} ELSE ${cur}.${f.column} END`)]),
    [
      'ended_at',
      // A searched CASE: Citus 13 sends a simple one (CASE x WHEN …) to the workers mangled.
      sql.raw(`CASE WHEN ${u}end_mode = 'set' THEN ${u}ended_at
         WHEN ${u}end_mode = 'end' THEN COALESCE(${cur}.ended_at, GREATEST(${u}event_time, ${cur}.started_at))
         WHEN ${u}end_mode = 'clear' THEN NULL ELSE ${cur}.ended_at END`),
    ],
  ];
}

/** `column = value, …` of an UPDATE. */
export const setList = (assignments: Assignment[]): Sql =>
  sql.join(
    assignments.map(([column, value]) => sql`${sql.raw(column)} = ${value}`),
    ', ',
  );

/** The column names of an INSERT, in order. */
export const columnList = (assignments: Assignment[]): Sql => sql.raw(assignments.map(([column]) => column).join(', '));

/** The values of an INSERT … SELECT, in the order of columnList. */
export const valueList = (assignments: Assignment[]): Sql =>
  sql.join(
    assignments.map(([, value]) => value),
    ',\n       ',
  );

/** An update's columns for updatedColumns, their names starting with `prefix`. */
export function updateColumns(prefix: string, dto: object & { status?: string; endedAt?: string }, eventTime?: Date): Record<string, unknown> {
  const { end_mode, ended_at, event_time } = endedAtColumns(dto, eventTime);
  return { [`${prefix}d`]: dto, [`${prefix}end_mode`]: end_mode, [`${prefix}ended_at`]: ended_at, [`${prefix}event_time`]: event_time };
}

/** The column list of jsonb_to_recordset for an update's columns named with `prefix`. */
export const updateColumnTypes = (prefix: string): Sql =>
  sql.raw(`${prefix}d jsonb, ${prefix}end_mode text, ${prefix}ended_at timestamptz, ${prefix}event_time timestamptz`);

/**
 * The end-time rule (domain/lifecycle.ts) for a single-row UPDATE of a run or a step: a table
 * with `ended_at` and `started_at`.
 */
export function endAssignment(dto: { status?: string; endedAt?: string }, eventTime?: Date): Assignment | undefined {
  const change = endChange(dto, eventTime);
  if (change.mode === 'set') return ['ended_at', sql`${change.endedAt}`];
  if (change.mode === 'end') {
    // now() is taken here: Citus evaluates no now() inside a COALESCE.
    return ['ended_at', sql`COALESCE(ended_at, GREATEST(${change.at ?? new Date()}::timestamptz, started_at))`];
  }
  if (change.mode === 'clear') return ['ended_at', sql`NULL`];
  return undefined;
}

/**
 * An UPDATE that moves rollups by what it changed, in one statement: the rows `where` selects
 * (alias `alias`; with `updates`, a relation `u` of per-row update rows joined by id) are read
 * and locked as they were (`old`: their id as `o_id`, the rollup columns as `o_<column>`),
 * updated with `set` (and updated_at), matched back on `keys` (each a rollup column, besides the
 * id), and `rollups` applies the new rows minus the old ones. Answers `select` of the rows as
 * written (`written`: `returning`, then the old rollup columns).
 */
export function updateWithRollups(o: {
  table: string;
  alias: string;
  where: Sql;
  updates?: Sql;
  set: Assignment[];
  rollupColumns: string[];
  keys: string[];
  rollups: (sources: { from: string; sign: 1 | -1; prefix?: string }[]) => Sql;
  returning: Sql;
  select: Sql;
}): Sql {
  const a = o.alias;
  const from = sql.raw(`${o.table} ${a}`);
  const match = sql.raw([`${a}.id = o.o_id`, ...o.keys.map((k) => `${a}.${k} = o.o_${k}`)].join(' AND '));
  return sql`WITH ${o.updates ? sql`u AS (${o.updates}),` : sql``}
       old AS (SELECT * FROM (
         SELECT ${sql.raw(`${a}.id AS o_id`)}, ${columnsAs(a, o.rollupColumns, 'o_')} FROM ${from}
         ${o.updates ? sql.raw(`JOIN u ON u.id = ${a}.id`) : sql``}
         WHERE ${o.where} FOR UPDATE OF ${sql.raw(a)}
       ) locked),
       written AS (
         UPDATE ${from} SET ${setList([['updated_at', sql`now()`], ...o.set])}
         FROM old o ${o.updates ? sql`JOIN u ON u.id = o.o_id` : sql``}
         WHERE ${match}
         RETURNING ${o.returning}, ${sql.raw(o.rollupColumns.map((c) => `o.o_${c}`).join(', '))}
       )${o.rollups([
         { from: 'written', sign: 1 },
         { from: 'written', sign: -1, prefix: 'o_' },
       ])}
       SELECT ${o.select} FROM written`;
}
