import type { Request } from 'express';
import type { AuthResult } from './api-keys.service.js';

/** The key a request presents, and what was learned about it before the guard ran. */

/** Extracts the key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
}

/** The client's address as express sees it (X-Forwarded-For only through XRAY_TRUST_PROXY). */
export const clientAddress = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** What authenticateFirst learned, for the body parser and the guard. */
export interface EarlyAuthentication {
  /** The key's lookup (or its failure), reused by the guard: one query and one rate-limit count per request. */
  earlyAuth?: { key: string; result: AuthResult | null } | { key: string; error: unknown };
  /** The caller cannot be served: leave the body unread and unparsed. */
  skipBody?: boolean;
}
