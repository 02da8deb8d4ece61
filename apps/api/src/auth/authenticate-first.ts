import type { NextFunction, Request, Response } from 'express';
import type { AppConfig } from '../config/config.js';
import { clientAddress, type EarlyAuthentication, presentedKey } from './presented-key.js';
import { secretsEqual } from './api-key.util.js';
import type { ApiKeysService } from './api-keys.service.js';

const hasBody = (req: Request): boolean => {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
};

/**
 * Authenticates a request that carries a body before the body is read, so a caller without a
 * valid key (missing, malformed, unknown, revoked, expired or over its rate limit) can never
 * make the server buffer and parse up to XRAY_MAX_BODY of JSON: its body is left unparsed and
 * the guard answers 401 (or 429). Requests without a body are authenticated by the guard alone.
 */
export function authenticateFirst(keys: ApiKeysService, config: AppConfig) {
  return (req: Request & EarlyAuthentication, _res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    const key = presentedKey(req);
    if (!key) {
      req.skipBody = true;
      return next();
    }
    if (config.rootKey && secretsEqual(key, config.rootKey)) return next();
    keys.authenticate(key, clientAddress(req)).then(
      (result) => {
        req.earlyAuth = { key, result };
        if (!result || result.limited) req.skipBody = true;
        next();
      },
      // The database is unreachable (503), or the address failed too often (429): the guard
      // reports it without asking again.
      (error: unknown) => {
        req.earlyAuth = { key, error };
        req.skipBody = true;
        next();
      },
    );
  };
}
