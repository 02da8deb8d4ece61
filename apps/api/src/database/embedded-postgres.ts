import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PgliteWire } from './pglite-wire.js';

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) served on a loopback port, so
 * the ordinary `pg` driver, our entities and our migrations run against it unchanged. The
 * socket front is our own (pglite-wire.ts): it gives the single session to one request, or one
 * transaction, at a time.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PgliteWire,
    readonly url: string,
    readonly location: string,
  ) {}

  /** Starts PGlite on `dataDir` (`memory://` for a throwaway database) and a socket on a free port. */
  static async start(dataDir: string, port = 0): Promise<EmbeddedPostgres> {
    const inMemory = dataDir.startsWith('memory://');
    const location = inMemory ? dataDir : resolve(dataDir);
    if (!inMemory) mkdirSync(location, { recursive: true });
    const db = await PGlite.create(inMemory ? undefined : location);
    const server = new PgliteWire(db);
    const url = `postgres://postgres@${await server.listen('127.0.0.1', port)}/postgres`;
    return new EmbeddedPostgres(db, server, url, location);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.db.close();
  }
}
