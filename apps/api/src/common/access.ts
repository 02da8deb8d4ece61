import { SetMetadata } from '@nestjs/common';
import type { Scope } from '../domain/vocabulary.js';

/**
 * Who may call a route, declared on it and enforced by the auth module's global guard. It lives
 * here, beside the Swagger decorators that document it (api-docs.ts), so shared code needs no
 * feature module.
 */

export const REQUIRED_SCOPE = 'xray:required-scope';
export const ACCESS = 'xray:access';

/** Who may call a route: project keys with a scope, the operator's root key, or nobody (public). */
export type Access = 'public' | 'root' | 'root-or-project';

/** What a project key needs for a route: a scope (`admin` implies every scope), or `any` valid key. */
export type RequiredScope = Scope | 'any';
/** The scope a project key needs for this route (`admin` implies every scope; `any`: no particular one). */
export const RequireScope = (scope: RequiredScope) => SetMetadata(REQUIRED_SCOPE, scope);
/** Routes outside `/v1` auth, such as health. */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);
/** Routes only the operator's `XRAY_ROOT_KEY` may call. */
export const RootOnly = () => SetMetadata(ACCESS, 'root' satisfies Access);
/** Routes the root key and project keys may both call. */
export const RootOrProject = () => SetMetadata(ACCESS, 'root-or-project' satisfies Access);
