import { type Sql, sql } from '../database/sql.js';
import { createdTimes, endChange } from '../domain/lifecycle.js';

/** The end-time rule (domain/lifecycle.ts) as the columns updatedColumns reads. */
function endedAtColumns(dto: { status?: string; endedAt?: string }, eventTime?: Date): { end_mode: string; ended_at?: string; event_time?: string } {
  const change = endChange(dto, eventTime);
  if (change.mode === 'set') return { end_mode: 'set', ended_at: change.endedAt.toISOString() };
  if (change.mode === 'end') return { end_mode: 'end', event_time: change.at?.toISOString() };
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
  /** text, json and int replace; merge is jsonb `||`; text[] takes a JSON array of strings. */
  as: 'text' | 'json' | 'int' | 'merge' | 'text[]';
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
      case 'int':
        return `(${u}d->>'${key}')::int`;
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
      sql.raw(`CASE ${u}end_mode WHEN 'set' THEN ${u}ended_at
         WHEN 'end' THEN COALESCE(${cur}.ended_at, GREATEST(COALESCE(${u}event_time, now()), ${cur}.started_at))
         WHEN 'clear' THEN NULL ELSE ${cur}.ended_at END`),
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
    const at = change.at ? sql`${change.at}::timestamptz` : sql`now()`;
    return ['ended_at', sql`COALESCE(ended_at, GREATEST(${at}, started_at))`];
  }
  if (change.mode === 'clear') return ['ended_at', sql`NULL`];
  return undefined;
}
