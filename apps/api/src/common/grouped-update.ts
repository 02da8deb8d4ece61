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

/**
 * The columns an update writes (its fields, then ended_at), as SQL over the row's current
 * values (`cur`, a table alias) and the update's columns, named `${u}d` (the fields as sent:
 * only those present are written), `${u}end_mode`, `${u}ended_at` and `${u}event_time` (see
 * domain/lifecycle.ts). One definition serves the grouped UPDATE of existing rows and the insert of
 * new rows with their update already applied, so both leave the same row.
 */
export function updatedColumns(fields: UpdateField[], cur: string, u: string): [column: string, sql: string][] {
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
    ...fields.map((f): [string, string] => [f.column, `CASE WHEN ${u}d ? '${f.key}' THEN ${value(f)} ELSE ${cur}.${f.column} END`]),
    [
      'ended_at',
      `CASE ${u}end_mode WHEN 'set' THEN ${u}ended_at
         WHEN 'end' THEN COALESCE(${cur}.ended_at, GREATEST(COALESCE(${u}event_time, now()), ${cur}.started_at))
         WHEN 'clear' THEN NULL ELSE ${cur}.ended_at END`,
    ],
  ];
}

/** An update's columns for updatedColumns, their names starting with `prefix`. */
export function updateColumns(prefix: string, dto: object & { status?: string; endedAt?: string }, eventTime?: Date): Record<string, unknown> {
  const { end_mode, ended_at, event_time } = endedAtColumns(dto, eventTime);
  return { [`${prefix}d`]: dto, [`${prefix}end_mode`]: end_mode, [`${prefix}ended_at`]: ended_at, [`${prefix}event_time`]: event_time };
}

/** The column list of jsonb_to_recordset for an update's columns named with `prefix`. */
export const updateColumnTypes = (prefix: string) =>
  `${prefix}d jsonb, ${prefix}end_mode text, ${prefix}ended_at timestamptz, ${prefix}event_time timestamptz`;
