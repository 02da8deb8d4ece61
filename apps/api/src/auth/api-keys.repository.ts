import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Queryable } from '../database/queryable.js';
import { query, queryChanged, sql } from '../database/sql.js';
import type { Scope } from '../domain/vocabulary.js';
import type { ApiKey } from './api-key.entity.js';

/** A stored key as the database has it (snake_case columns). */
interface ApiKeyRow {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  hash: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const toApiKey = (r: ApiKeyRow): ApiKey => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  prefix: r.prefix,
  hash: r.hash,
  scopes: r.scopes,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

const KEY_COLUMNS = sql.raw('id, project_id, name, prefix, hash, scopes, created_at, last_used_at, expires_at, revoked_at');

/** A live key found by its hash, with this request counted in its rate-limit window when asked. */
export interface LiveKeyRow {
  id: string;
  project_id: string;
  scopes: string[];
  hash: string;
  /** Requests in the key's current one-minute window, this one included; null when not counted. */
  count: number | null;
  /** Seconds until the window ends. */
  reset_in: number;
}

/** The SQL of the auth module: api_keys and rate_limit_counters. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insertKey(
    key: { id: string; projectId: string; name: string; prefix: string; hash: string; scopes: Scope[]; expiresAt: Date | null },
    db: Queryable = this.dataSource,
  ): Promise<ApiKey> {
    const [row] = await query<ApiKeyRow>(
      db,
      sql`INSERT INTO api_keys (id, project_id, name, prefix, hash, scopes, expires_at)
          VALUES (${key.id}, ${key.projectId}, ${key.name}, ${key.prefix}, ${key.hash}, ${key.scopes}, ${key.expiresAt})
          RETURNING ${KEY_COLUMNS}`,
    );
    return toApiKey(row);
  }

  /** The project's keys, newest first, revoked ones included. */
  async listProjectKeys(projectId: string, db: Queryable = this.dataSource): Promise<ApiKey[]> {
    const rows = await query<ApiKeyRow>(db, sql`SELECT ${KEY_COLUMNS} FROM api_keys WHERE project_id = ${projectId} ORDER BY created_at DESC, id DESC`);
    return rows.map(toApiKey);
  }

  /** The project of the key with this id, or undefined. */
  async findKeyProjectId(id: string, db: Queryable = this.dataSource): Promise<string | undefined> {
    const [row] = await query<{ project_id: string }>(db, sql`SELECT project_id FROM api_keys WHERE id = ${id}`);
    return row?.project_id;
  }

  /**
   * Marks the project's key revoked (keeping the first revocation time); false when it has no such
   * key. The time is this process's: Citus evaluates no now() inside a COALESCE.
   */
  async revokeKey(projectId: string, id: string, db: Queryable = this.dataSource): Promise<boolean> {
    const rows = await queryChanged(
      db,
      sql`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ${new Date()}::timestamptz) WHERE id = ${id} AND project_id = ${projectId} RETURNING id`,
    );
    return rows.length > 0;
  }

  /** The key's name, scopes and expiry with its project's name, or undefined. */
  async findKeyInfo(
    projectId: string,
    keyId: string,
    db: Queryable = this.dataSource,
  ): Promise<{ key_name: string; scopes: string[]; expires_at: Date | null; project_name: string } | undefined> {
    const [row] = await query<{ key_name: string; scopes: string[]; expires_at: Date | null; project_name: string }>(
      db,
      sql`SELECT k.name AS key_name, k.scopes, k.expires_at, p.name AS project_name
          FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.id = ${keyId} AND k.project_id = ${projectId}`,
    );
    return row;
  }

  /**
   * The live (not revoked, not expired) key with this hash. With `countRequest`, the same round
   * trip counts this request in the key's current one-minute window (shared by every API process).
   */
  async findLiveKey(hash: string, countRequest: boolean, db: Queryable = this.dataSource): Promise<LiveKeyRow | undefined> {
    const [row] = await query<LiveKeyRow>(
      db,
      countRequest
        ? sql`WITH k AS (
                SELECT id, project_id, scopes, hash FROM api_keys
                WHERE hash = ${hash} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
              ), counted AS (
                INSERT INTO rate_limit_counters (key_id, window_start, count)
                SELECT id, date_trunc('minute', now()), 1 FROM k
                ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_limit_counters.count + 1
                RETURNING count
              )
              SELECT k.*, (SELECT count FROM counted) AS count,
                     60 - extract(second FROM now())::int AS reset_in
              FROM k`
        : sql`SELECT id, project_id, scopes, hash, NULL::int AS count, 0 AS reset_in FROM api_keys
              WHERE hash = ${hash} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    );
    return row;
  }

  async touchLastUsed(keyId: string, db: Queryable = this.dataSource): Promise<void> {
    await query(db, sql`UPDATE api_keys SET last_used_at = now() WHERE id = ${keyId}`);
  }

  /** Rate-limit windows that ended more than a minute ago (no request counts in them any more). */
  async deleteExpiredRateLimitCounters(db: Queryable = this.dataSource): Promise<void> {
    await query(db, sql`DELETE FROM rate_limit_counters WHERE window_start < now() - interval '2 minutes'`);
  }
}
