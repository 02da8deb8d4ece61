import { sql } from '../database/sql.js';
import { columnList, endAssignment, setList, updateColumnTypes, updatedColumns, valueList } from './grouped-update.js';

describe('endAssignment (the end-time rule of a single-row update)', () => {
  const at = new Date('2026-11-30T21:04:12.345Z');
  it.each([
    ['sets the end time sent', { endedAt: '2026-11-30T21:05:00.000Z' }, undefined, { text: 'ended_at = $1', values: [new Date('2026-11-30T21:05:00.000Z')] }],
    [
      // "Now" is the process's clock, bound as a value (Citus evaluates no now() inside a COALESCE).
      'ends now on an ending status, never before the start',
      { status: 'success' },
      undefined,
      { text: 'ended_at = COALESCE(ended_at, GREATEST($1::timestamptz, started_at))', values: [expect.any(Date)] },
    ],
    [
      'ends at the event time when there is one',
      { status: 'error' },
      at,
      { text: 'ended_at = COALESCE(ended_at, GREATEST($1::timestamptz, started_at))', values: [at] },
    ],
    ['clears the end when the status goes back to running', { status: 'running' }, undefined, { text: 'ended_at = NULL', values: [] }],
  ])('%s', (_name, dto, eventTime, expected) => {
    const end = endAssignment(dto, eventTime);
    expect(end).toBeDefined();
    const query = setList([end!]).toQuery();
    expect(query).toEqual(expected);
    if (eventTime === undefined && 'status' in dto && query.values.length === 1)
      expect(Math.abs((query.values[0] as Date).getTime() - Date.now())).toBeLessThan(5_000);
  });

  it('leaves the end alone when the update says nothing about it', () => {
    expect(endAssignment({}, at)).toBeUndefined();
  });
});

describe('updatedColumns as fragments', () => {
  const set = updatedColumns([{ key: 'metadata', column: 'metadata', as: 'merge' }], 'r', 'u.');

  it('writes a field only when the update carries it, and ended_at last', () => {
    expect(columnList(set).toQuery().text).toBe('metadata, ended_at');
    expect(set[0][1].toQuery().text).toBe("CASE WHEN u.d ? 'metadata' THEN r.metadata || (u.d->'metadata') ELSE r.metadata END");
  });

  it('nests in a statement without parameters of its own, so the statement keeps its numbering', () => {
    const statement = sql`UPDATE runs r SET ${setList(set)} FROM jsonb_to_recordset(${'[]'}::jsonb) AS u(id uuid, ${updateColumnTypes('')}) WHERE r.id = u.id`;
    const { text, values } = statement.toQuery();
    expect(values).toEqual(['[]']);
    expect(text).toContain("metadata = CASE WHEN u.d ? 'metadata'");
    expect(text).toContain('jsonb_to_recordset($1::jsonb) AS u(id uuid, d jsonb, end_mode text, ended_at timestamptz, event_time timestamptz)');
    expect(valueList(set).toQuery().values).toEqual([]);
  });
});
