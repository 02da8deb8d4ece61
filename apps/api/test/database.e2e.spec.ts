import { DataSource } from 'typeorm';
import { createTestApp, type TestApp } from './harness.js';

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
});
