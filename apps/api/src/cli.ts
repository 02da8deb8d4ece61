/**
 * Operator commands that work without HTTP, for bootstrapping and emergencies:
 *
 *   npm run xray -- projects:create NAME
 *   npm run xray -- projects:list
 *   npm run xray -- keys:create --project NAME --scopes ingest,read [--name NAME] [--expires 2027-01-01T00:00:00Z]
 *   npm run xray -- keys:list --project NAME
 *   npm run xray -- keys:revoke KEY_ID
 *
 * Talks to DATABASE_URL (or the embedded database in XRAY_DATA_DIR) and applies pending
 * migrations first. Secrets are printed once, to stdout, and stored only as hashes.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { DataSource } from 'typeorm';
import { generateApiKey } from './auth/api-key.util.js';
import { SCOPES, type Scope } from './auth/scopes.js';
import { isMainModule } from './common/main-module.js';
import { loadConfig } from './config/config.js';
import { createDataSource } from './database/data-source.js';
import { EmbeddedPostgres } from './database/embedded-postgres.js';

class UsageError extends Error {}

const USAGE = `Usage:
  xray projects:create NAME
  xray projects:list
  xray keys:create --project NAME --scopes ingest,read,admin [--name NAME] [--expires ISO-8601]
  xray keys:list --project NAME
  xray keys:revoke KEY_ID`;

async function projectId(ds: DataSource, name: string | undefined): Promise<string> {
  if (!name) throw new UsageError('--project NAME is required');
  const [row] = await ds.query('SELECT id FROM projects WHERE name = $1', [name]);
  if (!row) throw new UsageError(`No project named "${name}"`);
  return row.id;
}

async function createKey(ds: DataSource, project: string, name: string, scopes: Scope[], expiresAt: Date | null) {
  const key = generateApiKey();
  const id = randomUUID();
  await ds.query('INSERT INTO api_keys (id, project_id, name, prefix, hash, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    id,
    project,
    name,
    key.prefix,
    key.hash,
    scopes,
    expiresAt,
  ]);
  return { id, key: key.key };
}

export async function runCli(argv: string[], out: (line: string) => void = console.log): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { project: { type: 'string' }, scopes: { type: 'string' }, name: { type: 'string' }, expires: { type: 'string' } },
  });
  const [command, arg] = positionals;
  if (!command) throw new UsageError(USAGE);

  const config = loadConfig();
  const embedded = config.databaseUrl ? undefined : await EmbeddedPostgres.start(config.dataDir);
  const ds = createDataSource({ url: config.databaseUrl ?? embedded!.url, poolSize: 1 });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
    switch (command) {
      case 'projects:create': {
        if (!arg || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(arg)) throw new UsageError('projects:create NAME (letters, digits, ".", "_", "-")');
        const id = randomUUID();
        const inserted = await ds.query('INSERT INTO projects (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id', [id, arg]);
        if (inserted.length === 0) throw new UsageError(`A project named "${arg}" already exists`);
        const key = await createKey(ds, id, `${arg} admin`, ['admin'], null);
        out(`Created project ${arg} (${id}).`);
        out(`Admin key ${key.id} (shown once): ${key.key}`);
        return;
      }
      case 'projects:list': {
        const rows = await ds.query('SELECT id, name, created_at FROM projects ORDER BY created_at');
        for (const r of rows) out(`${r.id}  ${r.name}  ${r.created_at.toISOString()}`);
        return;
      }
      case 'keys:create': {
        const project = await projectId(ds, values.project);
        const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s as Scope))) {
          throw new UsageError(`--scopes must list one or more of: ${SCOPES.join(', ')}`);
        }
        const expiresAt = values.expires ? new Date(values.expires) : null;
        if (expiresAt && (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now())) {
          throw new UsageError('--expires must be a future ISO 8601 date-time');
        }
        const key = await createKey(ds, project, values.name ?? `${scopes.join('+')} key`, [...new Set(scopes)] as Scope[], expiresAt);
        out(`Key ${key.id} with scopes ${scopes.join(', ')} (shown once): ${key.key}`);
        return;
      }
      case 'keys:list': {
        const project = await projectId(ds, values.project);
        const rows = await ds.query(
          'SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at FROM api_keys WHERE project_id = $1 ORDER BY created_at',
          [project],
        );
        for (const r of rows) {
          const state = r.revoked_at ? 'revoked' : r.expires_at && r.expires_at < new Date() ? 'expired' : 'active';
          out(`${r.id}  ${r.prefix}…  ${r.scopes.join(',')}  ${state}  ${r.name}`);
        }
        return;
      }
      case 'keys:revoke': {
        if (!arg || !/^[0-9a-f-]{36}$/i.test(arg)) throw new UsageError('keys:revoke KEY_ID (the key id, a UUID)');
        const [rows] = await ds.query('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING id', [arg]);
        if (rows.length === 0) throw new UsageError(`No key with id ${arg}`);
        out(`Revoked key ${arg}.`);
        return;
      }
      default:
        throw new UsageError(`Unknown command "${command}".\n${USAGE}`);
    }
  } finally {
    await ds.destroy();
    await embedded?.stop();
  }
}

if (isMainModule(import.meta.url)) {
  runCli(process.argv.slice(2)).catch((err) => {
    console.error(err instanceof UsageError ? err.message : err instanceof Error ? err.message : String(err));
    process.exit(err instanceof UsageError ? 2 : 1);
  });
}
