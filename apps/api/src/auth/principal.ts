import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Scope } from '../domain/vocabulary.js';

export type Principal = { kind: 'root' } | { kind: 'project'; projectId: string; keyId: string; scopes: Scope[] };

export interface AuthenticatedRequest {
  principal?: Principal;
}

/** The caller's project id; only used on routes the guard has limited to project keys. */
export const ProjectId = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (principal?.kind !== 'project') throw new Error('ProjectId used on a route without a project principal');
  return principal.projectId;
});

/** The authenticated caller (root or project key). */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal!,
);
