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

/** Validates a plain value against a DTO class with the same rules as request bodies. */
export async function validateDto<T extends object>(
  cls: new () => T,
  plain: unknown,
): Promise<{ value: T; details?: undefined } | { value?: undefined; details: ErrorDetail[] }> {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { details: [{ field: 'body', message: 'body must be an object' }] };
  }
  const value = plainToInstance(cls, plain, { enableImplicitConversion: false });
  const errors = await validate(value, DTO_VALIDATION);
  return errors.length ? { details: flatten(errors) } : { value };
}

const SELF_VALIDATED = Symbol('xray:self-validated');

/**
 * Marks a body DTO whose route validates it with a dedicated fast pipe (hot bulk paths);
 * the global ValidationPipe leaves it alone. The class still documents the contract in Swagger.
 */
export const SelfValidated = (): ClassDecorator => (target) => {
  Reflect.defineMetadata(SELF_VALIDATED, true, target);
};

class AppValidationPipe extends ValidationPipe {
  protected override toValidate(metadata: ArgumentMetadata): boolean {
    if (metadata.metatype && Reflect.getMetadata(SELF_VALIDATED, metadata.metatype)) return false;
    return super.toValidate(metadata);
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
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      const message = details.length === 1 ? `${details[0].field}: ${details[0].message}` : `${details.length} fields are invalid`;
      return new AppError(400, 'VALIDATION_FAILED', message, details);
    },
  });
}
