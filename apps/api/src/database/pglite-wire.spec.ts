import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PgliteWire } from './pglite-wire.js';

/** The embedded database's socket front, driven by the `pg` pool the server itself uses. */
describe('PgliteWire', () => {
  let db: PGlite;
  let wire: PgliteWire;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await PGlite.create();
    wire = new PgliteWire(db);
    pool = new pg.Pool({ connectionString: `postgres://postgres@${await wire.listen('127.0.0.1', 0)}/postgres`, max: 4 });
    await pool.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
  });

  afterAll(async () => {
    await pool.end();
    await wire.close();
    await db.close();
  });

  it('never interleaves one connection’s extended query or transaction with another’s', async () => {
    const errors: string[] = [];
    let wrong = 0;
    const work: Promise<void>[] = [];
    for (let i = 0; i < 600; i++) {
      if (i % 3 === 0) {
        // A transaction that commits (even i) or fails a statement and rolls back (odd i).
        work.push(
          (async () => {
            const c = await pool.connect();
            try {
              await c.query('BEGIN');
              await c.query('INSERT INTO t VALUES ($1, $2)', [i, 'kept']);
              if (i % 2 === 1) {
                await c.query('SELECT 1 / 0').catch(() => undefined);
                await c.query('ROLLBACK');
              } else {
                await c.query('COMMIT');
              }
            } catch (err) {
              errors.push(`transaction ${i}: ${(err as Error).message}`);
            } finally {
              c.release();
            }
          })(),
        );
      } else {
        // Statements with different parameter counts, so a stolen unnamed statement shows.
        const q =
          i % 2 === 1 ? pool.query('SELECT $1::int + 1 AS v', [i]) : pool.query('SELECT count(*)::int AS v, $1::text AS t FROM t WHERE id >= $2', ['x', i]);
        work.push(
          q.then(
            (r) => {
              if (i % 2 === 1 && r.rows[0]?.v !== i + 1) wrong++;
            },
            (err: Error) => void errors.push(`query ${i}: ${err.message}`),
          ),
        );
      }
    }
    await Promise.all(work);
    expect(errors).toEqual([]);
    expect(wrong).toBe(0);
    // Every committed transaction's row, none of the rolled-back ones.
    const committed = Array.from({ length: 600 }, (_, i) => i).filter((i) => i % 3 === 0 && i % 2 === 0).length;
    expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(committed);
  });

  it('rolls back a transaction whose connection goes away, and frees the session for the others', async () => {
    const client = new pg.Client({ connectionString: pool.options.connectionString });
    client.on('error', () => undefined); // its own dropped connection
    await client.connect();
    await client.query('BEGIN');
    await client.query('INSERT INTO t VALUES (100001, $1)', ['abandoned']);
    // Another connection's statement waits for the transaction to end...
    const waiting = pool.query('SELECT count(*)::int AS n FROM t WHERE id = 100001');
    // ...which it does when its connection drops without COMMIT.
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await client.end().catch(() => undefined);
    expect((await waiting).rows[0].n).toBe(0);
    expect((await pool.query('SELECT count(*)::int AS n FROM t WHERE v = $1', ['abandoned'])).rows[0].n).toBe(0);
  });
});
