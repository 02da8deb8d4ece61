import { type Sql, sql } from '../database/sql.js';
import { previewColumn } from './preview.js';

/**
 * The select-list entries of `fields` cut to previews (common/preview.ts), as a fragment. The
 * limit is XRAY_PREVIEW_CHARS, an integer validated at boot, written into the statement as a
 * number: it is our configuration, not request input, and one value per process.
 */
export function previewColumns(fields: readonly string[], limit: number, prefix = ''): Sql {
  if (!Number.isSafeInteger(limit)) throw new Error(`preview limit must be an integer, got ${limit}`);
  return sql.raw(fields.map((f) => previewColumn(`${prefix}${f}`, f, String(limit))).join(',\n  '));
}
