/** Fresh databases for benchmarks: created on the local PostgreSQL, dropped afterwards. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server benchmarks create their databases on: DATABASE_URL's, else the local one. */
export const adminUrl = (): string => process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createDatabase(admin: string, label: string): Promise<BenchDatabase> {
  const name = `xray_bench_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  if (!/^xray_bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to create database ${name}`);
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
