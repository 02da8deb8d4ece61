import { applyDecorators } from '@nestjs/common';
import { ApiProperty, getSchemaPath } from '@nestjs/swagger';
import { ANY_JSON } from './dto-helpers.js';

/**
 * Bounded previews of free-form JSON fields in list answers (runs, steps, candidates).
 *
 * A field whose JSON text is longer than XRAY_PREVIEW_CHARS characters is answered as a string:
 * the first XRAY_PREVIEW_CHARS characters of that text followed by `…`, and the item's
 * `truncated` names it. The cut is made in SQL, so a list of runs with megabyte outputs moves
 * a few kilobytes from the database, not megabytes. The JSON text is PostgreSQL's rendering of
 * the stored value (`{"price": 89, "title": "Laptop stand pro"}`: jsonb key order, a space after
 * `:` and `,`); lengths count Unicode characters.
 */
export const PREVIEW_ELLIPSIS = '…';

/**
 * Select-list entries for a jsonb `column` cut to a preview of `limit` (a bound parameter such
 * as `$3`) characters: the value (or its preview) as `alias`, and `alias_cut`, true when cut.
 */
export function previewColumn(column: string, alias: string, limit: string): string {
  const text = `(${column})::text`;
  return `CASE WHEN length(${text}) > ${limit} THEN to_jsonb(left(${text}, ${limit}) || '${PREVIEW_ELLIPSIS}') ELSE ${column} END AS ${alias},
    COALESCE(length(${text}) > ${limit}, false) AS ${alias}_cut`;
}

/** The fields of a row read with {@link previewColumn} that were cut, in the order given. */
export function truncatedFields<F extends string>(row: object, fields: readonly F[]): F[] {
  return fields.filter((f) => (row as Record<string, unknown>)[`${f}_cut`] === true);
}

const PREVIEW_NOTE =
  'In lists and step trees, a value whose JSON text is longer than XRAY_PREVIEW_CHARS (default 2000) characters is replaced by a string holding its first XRAY_PREVIEW_CHARS characters followed by `…`, and `truncated` names the field; fetch the item itself for the full value.';

/** A list item's free-form JSON field: any JSON value, or its preview string. */
export const PreviewJsonField = (description: string, example: unknown) =>
  ApiProperty({ description: `${description} ${PREVIEW_NOTE}`, ...ANY_JSON, example } as never);

/** A list item's JSON object field (metadata): the object, or its preview string. */
export const PreviewObjectField = (description: string, example: Record<string, unknown>) =>
  ApiProperty({
    description: `${description} ${PREVIEW_NOTE}`,
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }],
    example,
  } as never);

/** A list item's `evaluations`: the per-check results, or their preview string. */
export const PreviewEvaluationsField = (evaluation: new () => unknown, example: unknown) =>
  ApiProperty({
    description: `Per-check results. ${PREVIEW_NOTE}`,
    nullable: true,
    oneOf: [{ type: 'array', items: { $ref: getSchemaPath(evaluation) } }, { type: 'string' }],
    example,
  } as never);

/** The `truncated` field of a list item. */
export const TruncatedField = (fields: readonly string[], example: string[]) =>
  applyDecorators(
    ApiProperty({
      type: [String],
      enum: fields,
      description: `The fields of this item answered as a preview (cut at XRAY_PREVIEW_CHARS characters of their JSON text); always present, empty when nothing was cut.`,
      example,
    }),
  );
