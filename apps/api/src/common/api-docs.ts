import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiExtension, ApiParam, ApiResponse, ApiSecurity } from '@nestjs/swagger';
import type { Scope } from '../domain/vocabulary.js';
import { RequireScope, RootOrProject } from './access.js';
import { ErrorResponseDto } from './error-response.dto.js';

/** Documents the error answers an operation can give, all in the shared error shape. */
export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(...statuses.map((status) => ApiResponse({ status, type: ErrorResponseDto, description: ERROR_TEXT[status] })));

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input (see `details`).',
  401: 'Missing, unknown, revoked or expired API key.',
  403: 'The key lacks the scope this operation needs.',
  404: 'Not found in the caller’s project.',
  409: 'Conflicts with an existing resource.',
  410: 'The id belonged to a run this project deleted; it cannot be used again.',
  413: 'Body or batch larger than the configured limit.',
  429: 'Too many requests: the key is over XRAY_RATE_LIMIT, or this address failed authentication XRAY_AUTH_FAILURE_LIMIT times this minute; retry after `Retry-After` seconds.',
};

/**
 * A project-key route needing `scope`: enforces it, documents it in Swagger (security
 * requirement plus an `x-required-scope` extension) and lists the auth errors.
 */
export const ProjectRoute = (scope: Scope) =>
  applyDecorators(RequireScope(scope), ApiSecurity('bearer'), ApiSecurity('api-key'), ApiExtension('x-required-scope', scope), ApiErrors(401, 403, 429));

/**
 * A route every valid key may call: a project key of any scope, or the root key. Documented
 * with the security requirement and `x-required-scope: any`; no 403 is possible.
 */
export const AnyKeyRoute = () =>
  applyDecorators(
    RootOrProject(),
    RequireScope('any'),
    ApiSecurity('bearer'),
    ApiSecurity('api-key'),
    ApiExtension('x-required-scope', 'any'),
    ApiErrors(401, 429),
  );

/** Documents a UUID path parameter. */
export const ApiIdParam = (name: string, description: string) => ApiParam({ name, description, format: 'uuid', type: String });

/**
 * The request body with named examples; Swagger UI pre-fills the first on "Try it out", so it
 * must succeed as it stands (see REQUEST_EXAMPLE).
 */
export const ApiBodyExamples = (type: new () => unknown, examples: Record<string, { summary: string; value: object }>) => ApiBody({ type, examples });
