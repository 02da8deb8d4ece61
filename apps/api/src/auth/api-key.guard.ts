import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ACCESS, type Access, REQUIRED_SCOPE, type RequiredScope } from '../common/access.js';
import { AppError } from '../common/app-error.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { ApiKeysService } from './api-keys.service.js';
import { secretsEqual } from './api-key.util.js';
import type { AuthenticatedRequest } from './principal.js';
import { clientAddress, type EarlyAuthentication, presentedKey } from './presented-key.js';

const unauthorized = (message: string) => new AppError(401, 'UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': 'Bearer realm="xray"' });

/**
 * The global guard. Every route is closed unless marked public; project routes need a project
 * key with the route's scope (`admin` implies all), project management needs the root key.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, targets);
    if (access === 'public') return true;

    const req = context.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const key = presentedKey(req);
    if (!key) throw unauthorized('Missing API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"');

    if (this.config.rootKey && secretsEqual(key, this.config.rootKey)) {
      if (access === 'root' || access === 'root-or-project') {
        req.principal = { kind: 'root' };
        return true;
      }
      throw new AppError(403, 'FORBIDDEN', 'The root key only manages projects; use a project API key for this route');
    }

    // The key may have been looked up already, before the body was read (authenticateFirst).
    const early = (req as EarlyAuthentication).earlyAuth;
    if (early?.key === key && 'error' in early) throw early.error;
    const auth = early?.key === key && 'result' in early ? early.result : await this.apiKeys.authenticate(key, clientAddress(req));
    if (!auth) throw unauthorized('Invalid, revoked or expired API key');
    const { principal } = auth;
    if (auth.limited) {
      throw new AppError(
        429,
        'RATE_LIMITED',
        `This API key exceeded ${auth.limited.limit} requests per minute (XRAY_RATE_LIMIT); retry after ${auth.limited.retryAfterSeconds} s`,
        undefined,
        { 'Retry-After': String(auth.limited.retryAfterSeconds) },
      );
    }
    if (access === 'root') throw new AppError(403, 'FORBIDDEN', 'Only the operator root key (XRAY_ROOT_KEY) may do this');

    const required = this.reflector.getAllAndOverride<RequiredScope | undefined>(REQUIRED_SCOPE, targets) ?? 'admin';
    // `ingest` implies `feedback` (creating scores), as `admin` implies every scope.
    const implied = required === 'feedback' && principal.scopes.includes('ingest');
    if (required !== 'any' && !principal.scopes.includes('admin') && !principal.scopes.includes(required) && !implied) {
      throw new AppError(403, 'INSUFFICIENT_SCOPE', `This API key lacks the "${required}" scope this route needs`);
    }
    req.principal = principal;
    return true;
  }
}
