import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../database/queryable.js';
import type { ApiKey } from './api-key.entity.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { generateApiKey, hashApiKey, isWellFormedApiKey, secretsEqual } from './api-key.util.js';
import type { Principal } from './principal.js';
import type { Scope } from '../domain/vocabulary.js';
import { AppError, notFound } from '../common/app-error.js';
import { iso } from '../common/dto-helpers.js';
import type { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from './api-keys.dto.js';
import type { KeyInfoDto } from './key-info.dto.js';
import { AuthFailureLimiter } from './auth-failure-limiter.js';

const toApiKeyDto = (k: ApiKey): ApiKeyDto => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt),
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
});

/** How often at most `last_used_at` is written for one key. */
const LAST_USED_INTERVAL_MS = 60_000;

export interface AuthResult {
  principal: Extract<Principal, { kind: 'project' }>;
  /** Set when the key has used up its requests for the current minute. */
  limited?: { limit: number; retryAfterSeconds: number };
}

export interface CreatedApiKey {
  entity: ApiKey;
  /** The secret: returned once, never stored. */
  key: string;
}

@Injectable()
export class ApiKeysService {
  private readonly lastUsedWritten = new Map<string, number>();

  private readonly failures: AuthFailureLimiter;

  constructor(
    private readonly repository: ApiKeysRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.failures = new AuthFailureLimiter(config.authFailureLimitPerMinute);
  }

  /** Creates a key (in the caller's transaction when `db` is one); the secret is in the answer only. */
  async create(projectId: string, name: string, scopes: Scope[], expiresAt: Date | null = null, db?: Queryable): Promise<CreatedApiKey> {
    const generated = generateApiKey();
    const entity = await this.repository.insertKey(
      { id: randomUUID(), projectId, name, prefix: generated.prefix, hash: generated.hash, scopes, expiresAt },
      db,
    );
    return { entity, key: generated.key };
  }

  async list(projectId: string): Promise<ApiKeyDto[]> {
    return (await this.repository.listProjectKeys(projectId)).map(toApiKeyDto);
  }

  async createForProject(projectId: string, dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const expiresAt = dto.expiresAt ? new Date(dto.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new AppError(400, 'VALIDATION_FAILED', 'expiresAt must be in the future', [{ field: 'expiresAt', message: 'expiresAt must be in the future' }]);
    }
    const scopes = [...new Set(dto.scopes)];
    const { entity, key } = await this.create(projectId, dto.name, scopes, expiresAt);
    const { lastUsedAt: _l, revokedAt: _r, ...shown } = toApiKeyDto(entity);
    return { ...shown, key };
  }

  /** The project a key belongs to (for the operator CLI, which names keys by id alone). */
  async projectOf(id: string): Promise<string> {
    const projectId = await this.repository.findKeyProjectId(id);
    if (projectId === undefined) throw notFound('API key', id);
    return projectId;
  }

  /** Revokes a key of the project (idempotent); another project's key id is a 404. */
  async revoke(projectId: string, id: string): Promise<void> {
    if (!(await this.repository.revokeKey(projectId, id))) throw notFound('API key', id);
  }

  /** What the caller's key is: the root key, or a project key with its project, name, scopes and expiry. */
  async describe(principal: Principal): Promise<KeyInfoDto> {
    if (principal.kind === 'root') {
      return { root: true, projectId: null, projectName: null, keyId: null, keyName: null, scopes: [], expiresAt: null };
    }
    const row = await this.repository.findKeyInfo(principal.projectId, principal.keyId);
    // The guard found the key a moment ago; only a project deleted in between gets here.
    if (!row) throw new AppError(401, 'UNAUTHORIZED', 'Invalid, revoked or expired API key');
    return {
      root: false,
      projectId: principal.projectId,
      projectName: row.project_name,
      keyId: principal.keyId,
      keyName: row.key_name,
      scopes: row.scopes,
      expiresAt: iso(row.expires_at),
    };
  }

  /**
   * Resolves a presented project key. Malformed keys (wrong shape or checksum) are rejected
   * without touching the database; valid ones are looked up by hash on every request so a
   * revocation or expiry takes effect at once on every replica. A client `address` whose
   * well-formed keys failed XRAY_AUTH_FAILURE_LIMIT times this minute is refused (429) before
   * any lookup (malformed keys cost no lookup, so they are neither counted nor refused).
   */
  async authenticate(key: string, address?: string): Promise<AuthResult | null> {
    if (!isWellFormedApiKey(key)) return null;
    if (address === undefined) return this.lookUp(key);
    const wait = this.failures.retryAfter(address);
    if (wait > 0) {
      throw new AppError(
        429,
        'TOO_MANY_AUTH_FAILURES',
        `Too many failed authentications from this address (XRAY_AUTH_FAILURE_LIMIT per minute); retry after ${wait} s`,
        undefined,
        { 'Retry-After': String(wait) },
      );
    }
    const result = await this.lookUp(key);
    if (!result) this.failures.fail(address);
    return result;
  }

  private async lookUp(key: string): Promise<AuthResult | null> {
    const hash = hashApiKey(key);
    // One round trip: find the live key and, when rate limiting is on, count this request.
    const limit = this.config.rateLimitPerMinute;
    const row = await this.repository.findLiveKey(hash, limit > 0);
    if (!row || !secretsEqual(row.hash, hash)) return null;
    this.touch(row.id);
    return {
      principal: { kind: 'project', projectId: row.project_id, keyId: row.id, scopes: row.scopes as Scope[] },
      limited: limit > 0 && (row.count ?? 0) > limit ? { limit, retryAfterSeconds: Math.max(1, row.reset_in) } : undefined,
    };
  }

  /** Records use at most once a minute per key, off the request's path. */
  private touch(keyId: string): void {
    const now = Date.now();
    const last = this.lastUsedWritten.get(keyId) ?? 0;
    if (now - last < LAST_USED_INTERVAL_MS) return;
    this.lastUsedWritten.set(keyId, now);
    this.repository.touchLastUsed(keyId).catch(() => this.lastUsedWritten.delete(keyId));
  }

  /**
   * Deletes rate-limit counters of windows that ended more than a minute ago (the maintenance
   * sweeper calls it; a counter is only read in its own minute).
   */
  async purgeExpiredRateLimitCounters(db?: Queryable): Promise<void> {
    await this.repository.deleteExpiredRateLimitCounters(db);
  }
}
