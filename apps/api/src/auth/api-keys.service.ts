import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiKey } from './api-key.entity.js';
import { generateApiKey, hashApiKey, isWellFormedApiKey, secretsEqual } from './api-key.util.js';
import type { Principal } from './principal.js';
import type { Scope } from './scopes.js';

/** How often at most `last_used_at` is written for one key. */
const LAST_USED_INTERVAL_MS = 60_000;

export interface CreatedApiKey {
  entity: ApiKey;
  /** The secret: returned once, never stored. */
  key: string;
}

@Injectable()
export class ApiKeysService {
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(private readonly dataSource: DataSource) {}

  async create(
    manager: EntityManager,
    projectId: string,
    name: string,
    scopes: Scope[],
    expiresAt: Date | null = null,
  ): Promise<CreatedApiKey> {
    const generated = generateApiKey();
    const entity = manager.create(ApiKey, {
      id: randomUUID(),
      projectId,
      name,
      prefix: generated.prefix,
      hash: generated.hash,
      scopes,
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
    });
    await manager.insert(ApiKey, entity);
    const saved = await manager.findOneByOrFail(ApiKey, { id: entity.id });
    return { entity: saved, key: generated.key };
  }

  /**
   * Resolves a presented project key. Malformed keys (wrong shape or checksum) are rejected
   * without touching the database; valid ones are looked up by hash on every request so a
   * revocation or expiry takes effect at once on every replica.
   */
  async authenticate(key: string): Promise<Principal | null> {
    if (!isWellFormedApiKey(key)) return null;
    const hash = hashApiKey(key);
    const row = await this.dataSource
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .where('k.hash = :hash', { hash })
      .andWhere('k.revoked_at IS NULL')
      .andWhere('(k.expires_at IS NULL OR k.expires_at > now())')
      .getOne();
    if (!row || !secretsEqual(row.hash, hash)) return null;
    this.touch(row.id);
    return { kind: 'project', projectId: row.projectId, keyId: row.id, scopes: row.scopes as Scope[] };
  }

  /** Records use at most once a minute per key, off the request's path. */
  private touch(keyId: string): void {
    const now = Date.now();
    const last = this.lastUsedWritten.get(keyId) ?? 0;
    if (now - last < LAST_USED_INTERVAL_MS) return;
    this.lastUsedWritten.set(keyId, now);
    this.dataSource
      .query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [keyId])
      .catch(() => this.lastUsedWritten.delete(keyId));
  }
}
