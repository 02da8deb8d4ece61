import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AppError, type ErrorDetail } from './app-error.js';

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) out.push({ field, message });
    if (error.children?.length) out.push(...flatten(error.children, field));
  }
  return out;
}

const DTO_VALIDATION = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true } as const;
const MAX_DETAILS = 20;

const RAW_JSON = Symbol('xray:raw-json');

/**
 * Marks a DTO property holding free-form JSON (input, output, metadata...). Its value is kept
 * exactly as the client sent it: class-transformer never walks it (it would drop keys such as
 * `constructor` or `toString`, or throw on them), and any key is allowed inside it.
 * Honoured on the DTO a route or {@link validateDto} validates (not inside nested DTOs).
 */
export const RawJson = (): PropertyDecorator => (target, property) => {
  const ctor = target.constructor;
  const own: string[] = Reflect.getOwnMetadata(RAW_JSON, ctor) ?? [...((Reflect.getMetadata(RAW_JSON, ctor) as string[] | undefined) ?? [])];
  own.push(String(property));
  Reflect.defineMetadata(RAW_JSON, own, ctor);
};

const rawJsonFields = (cls: object): string[] => (Reflect.getMetadata(RAW_JSON, cls) as string[] | undefined) ?? [];

/**
 * Keys that can never be DTO fields: class-transformer skips them silently (or, for an own
 * `constructor`, takes it for the class to build and throws), so outside free-form JSON they
 * are reported as unknown properties instead.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype', ...Object.getOwnPropertyNames(Object.prototype)]);

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

/**
 * Problems in a JSON value that the database would refuse or silently alter: strings (and
 * keys) that are not valid Unicode (a lone UTF-16 surrogate, which PostgreSQL cannot store and
 * the driver would turn into U+FFFD), and numbers beyond the double range (`1e400` parses to
 * Infinity and would be stored as null). With `reservedKeys`, keys that cannot be DTO fields
 * are reported too. Iterative: hostile nesting cannot blow the stack.
 */
export function jsonValueProblems(value: unknown, path: string, out: ErrorDetail[], reservedKeys = false, max = MAX_DETAILS): ErrorDetail[] {
  const stack: [unknown, string][] = [[value, path]];
  while (stack.length && out.length < max) {
    const [v, p] = stack.pop()!;
    if (typeof v === 'string') {
      if (!isWellFormed(v)) out.push({ field: p, message: `${p} must be valid Unicode text (it contains a lone surrogate)` });
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) out.push({ field: p, message: `${p} must be a finite number (at most about 1.8e308)` });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], join(p, i)]);
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i];
        const field = join(p, key);
        if (!isWellFormed(key)) {
          out.push({
            field: join(p, JSON.stringify(key).slice(1, -1)),
            message: 'property names must be valid Unicode text (this one contains a lone surrogate)',
          });
        } else if (reservedKeys && RESERVED_KEYS.has(key)) out.push({ field, message: `property ${key} should not exist` });
        else stack.push([(v as Record<string, unknown>)[key], field]);
      }
    }
  }
  return out.slice(0, max);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a plain value against a DTO class with the same rules as request bodies and
 * queries: unknown fields are rejected, types are enforced, free-form JSON fields are kept as
 * sent, and each problem is listed per field.
 */
export async function validateDto<T extends object>(
  cls: new () => T,
  plain: unknown,
): Promise<{ value: T; details?: undefined } | { value?: undefined; details: ErrorDetail[] }> {
  if (!isPlainObject(plain)) {
    return { details: [{ field: 'body', message: 'body must be an object' }] };
  }
  const raw = new Set(rawJsonFields(cls));
  const details: ErrorDetail[] = [];
  const copy: Record<string, unknown> = {};
  const detached: [string, unknown][] = [];
  for (const key of Object.keys(plain)) {
    const value = plain[key];
    if (raw.has(key)) {
      jsonValueProblems(value, key, details);
      detached.push([key, value]);
    } else {
      jsonValueProblems({ [key]: value }, '', details, true);
      Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  if (details.length) return { details: details.slice(0, MAX_DETAILS) };
  const instance = plainToInstance(cls, copy, { enableImplicitConversion: false }) as T;
  for (const [key, value] of detached) {
    Object.defineProperty(instance, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const errors = await validate(instance, DTO_VALIDATION);
  return errors.length ? { details: flatten(errors) } : { value: instance };
}

const SELF_VALIDATED = Symbol('xray:self-validated');

/**
 * Marks a body DTO whose route validates it with a dedicated fast pipe (hot bulk paths);
 * the global ValidationPipe leaves it alone. The class still documents the contract in Swagger.
 */
export const SelfValidated = (): ClassDecorator => (target) => {
  Reflect.defineMetadata(SELF_VALIDATED, true, target);
};

const validationFailed = (details: ErrorDetail[]) => {
  const message = details.length === 1 ? `${details[0].field}: ${details[0].message}` : `${details.length} fields are invalid`;
  return new AppError(400, 'VALIDATION_FAILED', message, details);
};

class AppValidationPipe extends ValidationPipe {
  protected override toValidate(metadata: ArgumentMetadata): boolean {
    if (metadata.metatype && Reflect.getMetadata(SELF_VALIDATED, metadata.metatype)) return false;
    return super.toValidate(metadata);
  }

  /**
   * DTO bodies and queries go through {@link validateDto} (not Nest's own transform, which
   * deletes `constructor`/`prototype` keys everywhere, free-form JSON included, before
   * class-transformer silently drops a few more).
   */
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const cls = metadata.metatype;
    if (!cls || !this.toValidate(metadata)) return super.transform(value, metadata);
    const result = await validateDto(cls as new () => object, value ?? {});
    if (result.details) throw validationFailed(result.details);
    return result.value;
  }
}

/**
 * Validation for every body and query: unknown fields are rejected, types are enforced and
 * each problem is listed per field in the error's `details`.
 */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailed(flatten(errors)),
  });
}
