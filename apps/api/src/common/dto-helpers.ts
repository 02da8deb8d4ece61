import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { RawJson } from './validation.js';

/**
 * The field may be left out, but not sent as null (class-validator's IsOptional lets null
 * through every other rule; for a column that cannot be null that reached the database).
 */
export const OptionalNotNull = () => ValidateIf((_object, value) => value !== undefined);

/** OpenAPI schema of "any JSON value", so generated clients accept strings, numbers and arrays too. */
export const ANY_JSON = {
  nullable: true,
  oneOf: [{ type: 'object', additionalProperties: true }, { type: 'array', items: {} }, { type: 'string' }, { type: 'number' }, { type: 'boolean' }],
} as const;

/** Documents a response field holding any JSON value. */
export const JsonField = (description: string, example: unknown) => ApiPropertyOptional({ description, ...ANY_JSON, example } as never);

/** Any JSON value (object, array, string, number, boolean or null), stored as is. */
export const OptionalJson = (description: string, example: unknown) =>
  applyDecorators(ApiPropertyOptional({ description, ...ANY_JSON, example } as never), IsOptional(), RawJson());

/** A JSON object (for metadata: merged key by key on update). */
export const OptionalJsonObject = (description: string, example: Record<string, unknown>) =>
  applyDecorators(ApiPropertyOptional({ description, type: 'object', additionalProperties: true, example }), OptionalNotNull(), IsObject(), RawJson());

/**
 * An optional ISO 8601 time. Body fields pass an example; query filters leave it out, since
 * Swagger UI would pre-fill it and the user's first "Execute" would filter their data away.
 */
export const OptionalTimestamp = (description: string, example?: string) =>
  applyDecorators(
    ApiPropertyOptional({ description, format: 'date-time', type: String, ...(example ? { example } : {}) }),
    OptionalNotNull(),
    IsISO8601({ strict: true, strictSeparator: true }),
  );

/** An optional enum; as with timestamps, only body fields pass an example. */
export const OptionalEnum = (values: readonly string[], description: string, example?: string) =>
  applyDecorators(
    ApiPropertyOptional({ description, enum: values, ...(example ? { example } : {}) }),
    OptionalNotNull(),
    IsIn(values as string[], { message: `$property must be one of: ${values.join(', ')}` }),
  );

/** Query-string `limit` with bounds. */
export const LimitParam = (max: number, fallback: number, example?: number) =>
  applyDecorators(
    ApiPropertyOptional({
      description: `Page size, 1–${max} (default ${fallback}).`,
      minimum: 1,
      maximum: max,
      default: fallback,
      type: 'integer',
      ...(example === undefined ? {} : { example }),
    }),
    IsOptional(),
    Type(() => Number),
    IsInt(),
    Min(1),
    Max(max),
  );

export const CursorParam = (example?: string) =>
  applyDecorators(
    ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.', ...(example === undefined ? {} : { example }) }),
    IsOptional(),
    IsString(),
    MaxLength(500),
  );

/** Accepts `?tag=a&tag=b` and `?tag=a` alike as a string array. */
export const ToArray = () => Transform(({ value }) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]));

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export { ApiProperty, ApiPropertyOptional };

/**
 * The `{ items, nextCursor }` answer of a paged listing, as a named schema (`RunPageDto`, …) so
 * the OpenAPI document and the SDK keep their type names. A listing that is never paged (a
 * project's keys) passes `nextCursor` to document its always-null, optional cursor.
 */
export function PageDtoOf<T>(
  item: new () => T,
  name: string,
  itemsDescription: string,
  nextCursor: { description: string; required: boolean; example?: string | null } = {
    description: 'Pass as `cursor` for the next page; null on the last page.',
    required: true,
  },
): new () => { items: T[]; nextCursor: string | null } {
  class Page {
    @ApiProperty({ type: [item], description: itemsDescription })
    items: T[];

    @ApiProperty({ nullable: true, type: String, description: nextCursor.description, example: nextCursor.example ?? null, required: nextCursor.required })
    nextCursor: string | null;
  }
  Object.defineProperty(Page, 'name', { value: name });
  return Page;
}
