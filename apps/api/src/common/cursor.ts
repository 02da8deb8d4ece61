import { badRequest } from './app-error.js';

/** Opaque keyset cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: ('string' | 'number')[]): unknown[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('INVALID_CURSOR', 'cursor is not a cursor this API returned');
  }
  if (!Array.isArray(values) || values.length !== shape.length || values.some((v, i) => typeof v !== shape[i])) {
    throw badRequest('INVALID_CURSOR', 'cursor is not a cursor this API returned');
  }
  return values;
}

const invalid = () => badRequest('INVALID_CURSOR', 'cursor is not a cursor this API returned');

/** A keyset position of (time, uuid): the order of runs and steps. */
export interface TimeIdCursor {
  at: Date;
  id: string;
}

export const encodeTimeIdCursor = (at: Date, id: string): string => encodeCursor([at.toISOString(), id]);

/** Reads a cursor made by encodeTimeIdCursor; 400 INVALID_CURSOR for anything else. */
export function decodeTimeIdCursor(cursor: string): TimeIdCursor {
  const [time, id] = decodeCursor(cursor, ['string', 'string']) as [string, string];
  const at = new Date(time);
  if (Number.isNaN(at.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) throw invalid();
  return { at, id };
}

/** A keyset position of a text key (a step's candidates, in key order). */
export const encodeKeyCursor = (key: string): string => encodeCursor(['k', key]);

/** Reads a cursor made by encodeKeyCursor; 400 INVALID_CURSOR for anything else. */
export function decodeKeyCursor(cursor: string): string {
  const [tag, key] = decodeCursor(cursor, ['string', 'string']) as [string, string];
  if (tag !== 'k') throw invalid();
  return key;
}

/**
 * One page of a keyset listing fetched with `limit + 1` rows: the page, and the cursor of its
 * last row when there is more.
 */
export function pageOf<R, T>(rows: R[], limit: number, toItem: (row: R) => T, cursorOf: (row: R) => string): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { items: page.map(toItem), nextCursor: rows.length > limit && page.length > 0 ? cursorOf(page[page.length - 1]) : null };
}
