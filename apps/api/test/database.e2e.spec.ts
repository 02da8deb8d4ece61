import pg from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';
import { migrations } from '../src/database/migrations/index.js';
import { createTestApp, type TestApp, usingRealPostgres } from './harness.js';

describe('database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('has applied the committed migrations, and they match the entities exactly (no drift)', async () => {
    const dataSource = t.app.get(DataSource);
    expect(await dataSource.showMigrations()).toBe(false);
    // What `migration:generate` would write: nothing, when entities and migrations agree.
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('never runs with synchronize', () => {
    expect(t.app.get(DataSource).options.synchronize).toBe(false);
  });

  it('has the indexes the queries rely on', async () => {
    const rows = await t.sql<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`);
    const names = rows.map((r) => r.indexname);
    expect(names).toEqual(expect.arrayContaining(['idx_runs_project_started', 'pk_candidates', 'idx_candidates_project_key', 'pk_steps', 'idx_runs_tags']));
  });

  const onPostgres = usingRealPostgres() ? it : it.skip;
  onPostgres('applies migrations without the request statement timeout: a migration that waits longer than it still completes', async () => {
    // The newest migration taken back, as on a server upgraded to this release; a lock on its
    // table keeps it waiting well past XRAY_STATEMENT_TIMEOUT_MS.
    const Newest = migrations[migrations.length - 1] as new () => { name: string; down(q: QueryRunner): Promise<void> };
    const newest = new Newest();
    await newest.down({ query: (text: string, params?: unknown[]) => t.sql(text, params) } as unknown as QueryRunner);
    await t.sql(`DELETE FROM migrations WHERE name = $1`, [newest.name]);
    const tables = (
      await t.sql<{ t: string }>(`SELECT DISTINCT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '%\\_2%'`)
    ).map((r) => r.t);
    const locker = new pg.Client({ connectionString: t.databaseUrl });
    await locker.connect();
    let upgraded: TestApp | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${tables.map((name) => `"${name}"`).join(', ')} IN ACCESS SHARE MODE`);
      const starting = createTestApp({ XRAY_STATEMENT_TIMEOUT_MS: '300' }, { shareDatabaseWith: t });
      await new Promise((r) => setTimeout(r, 1500));
      await locker.query('ROLLBACK');
      upgraded = await starting;
      expect(await upgraded.app.get(DataSource).showMigrations()).toBe(false);
      // The requests' connections keep the timeout.
      expect(await upgraded.sql<{ statement_timeout: string }>('SHOW statement_timeout')).toEqual([{ statement_timeout: '300ms' }]);
    } finally {
      await locker.end().catch(() => undefined);
      await upgraded?.app.close();
    }
  });
});
