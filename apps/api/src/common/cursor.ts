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
