import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { type BuiltCopy, buildCopy, type RunResult } from './built-copy.js';
import { createTestApp, createTestDatabase, type TestApp, usingRealPostgres } from './harness.js';

/**
 * The operator CLI as an operator runs it: the built cli.js in a child process, from a folder
 * whose path has a space, against a fresh PostgreSQL database or an embedded one on disk. What
 * it creates is then used over HTTP by the real app on the same database.
 */
describe('operator CLI (xray)', () => {
  let copy: BuiltCopy;
  let env: Record<string, string | undefined>;
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  const xray = (...args: string[]): Promise<RunResult> => copy.run('apps/api/src/cli.js', args, env);

  beforeAll(async () => {
    copy = await buildCopy();
    if (usingRealPostgres()) {
      const db = await createTestDatabase(process.env.DATABASE_URL!);
      drop = db.drop;
      databaseUrl = db.url;
      env = { DATABASE_URL: db.url };
    } else {
      dataDir = join(copy.dir, 'embedded data');
      env = { DATABASE_URL: undefined, XRAY_DATA_DIR: dataDir };
    }
  }, 120_000);

  afterAll(async () => {
    await drop?.();
    copy?.remove();
  });

  it('answers --help for itself and for each command, without a database', async () => {
    for (const args of [['--help'], ['help'], ['-h']]) {
      const res = await copy.run('apps/api/src/cli.js', args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
      expect(res).toMatchObject({ code: 0, stderr: '' });
      expect(res.stdout).toMatch(/^Usage: xray <command>/);
      for (const command of ['projects:create', 'projects:list', 'keys:create', 'keys:list', 'keys:revoke', 'export', 'import', 'delete-runs'])
        expect(res.stdout).toContain(`  ${command} `);
    }
    const create = await copy.run('apps/api/src/cli.js', ['keys:create', '--help'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(create).toMatchObject({ code: 0, stderr: '' });
    expect(create.stdout).toMatch(/^Usage: xray keys:create --project NAME --scopes SCOPES/);
    expect(create.stdout).toContain('--expires');
    const viaHelp = await copy.run('apps/api/src/cli.js', ['help', 'keys:create'], {});
    expect(viaHelp.stdout).toBe(create.stdout);
  }, 180_000);

  it('prints the usage and exits 2 on an unknown command, option or missing argument', async () => {
    const cases: [string[], RegExp, RegExp][] = [
      [[], /No command given/, /Usage: xray <command>/],
      [['frobnicate'], /Unknown command "frobnicate"/, /Usage: xray <command>/],
      [['projects:list', '--bogus'], /Unknown option '--bogus'/, /Usage: xray projects:list/],
      [['projects:create'], /NAME is required/, /Usage: xray projects:create NAME/],
      [['projects:create', 'bad name!'], /name may contain only letters/, /Usage: xray projects:create NAME/],
      [['keys:create', '--project', 'x'], /--scopes is required/, /Usage: xray keys:create/],
      [['keys:create', '--project', 'x', '--scopes', 'ingest,owner'], /each scope must be one of: ingest, read, delete, admin/, /Usage: xray keys:create/],
      [['keys:revoke', 'not-a-uuid'], /KEY_ID must be a key id/, /Usage: xray keys:revoke KEY_ID/],
    ];
    // Side by side: each case is a process of its own, and a loaded CI machine boots them slowly.
    const results = await Promise.all(cases.map(([args]) => xray(...args)));
    cases.forEach(([args, message, usage], i) => {
      const res = results[i];
      expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(res.stderr).toMatch(message);
      expect(res.stderr).toMatch(usage);
    });
  }, 180_000);

  it('exits 1 with the reason when the database cannot be reached', async () => {
    const res = await copy.run('apps/api/src/cli.js', ['projects:list'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/xray_unreachable' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^xray projects:list: .*ECONNREFUSED/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);

  it('manages projects and keys through the services; the app then honours them', async () => {
    const created = await xray('projects:create', 'search-team');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const [, projectId] = /^Created project search-team \(([0-9a-f-]{36})\)\.$/m.exec(created.stdout)!;
    const [, adminId, adminKey] = /^Admin key ([0-9a-f-]{36}) \(shown once\): (xr_\w+)$/m.exec(created.stdout)!;

    const duplicate = await xray('projects:create', 'search-team');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('A project named "search-team" already exists');

    const ingest = await xray('keys:create', '--project', 'search-team', '--scopes', 'ingest', '--name', 'ranker (prod)');
    expect(ingest).toMatchObject({ code: 0, stderr: '' });
    const [, ingestId, ingestKey] = /^Key ([0-9a-f-]{36}) with scopes ingest \(shown once\): (xr_\w+)$/m.exec(ingest.stdout)!;
    const read = await xray('keys:create', '-p', 'search-team', '-s', 'read', '--expires', '2099-01-01T00:00:00Z');
    const [, readId, readKey] = /^Key ([0-9a-f-]{36}) with scopes read \(shown once\): (xr_\w+)$/m.exec(read.stdout)!;

    const unknownProject = await xray('keys:create', '--project', 'nobody', '--scopes', 'read');
    expect(unknownProject.code).toBe(1);
    expect(unknownProject.stderr).toContain('No project named "nobody"');

    const revoked = await xray('keys:revoke', ingestId);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked key ${ingestId}.\n` });
    const unknownKey = await xray('keys:revoke', '00000000-0000-4000-8000-000000000000');
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.stderr).toContain('API key 00000000-0000-4000-8000-000000000000 not found');

    const keys = await xray('keys:list', '--project', 'search-team');
    expect(keys.code).toBe(0);
    const listed = keys.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('  '));
    expect(listed.map(([id, , scopes, state, name]) => [id, scopes, state, name]).sort()).toEqual(
      [
        [adminId, 'admin', 'active', 'search-team admin'],
        [ingestId, 'ingest', 'revoked', 'ranker (prod)'],
        [readId, 'read', 'active', 'read key'],
      ].sort(),
    );

    // The CLI never runs the server's first start: no "default" project (and no hidden key).
    const projects = await xray('projects:list');
    expect(projects.code).toBe(0);
    expect(
      projects.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('  ').slice(0, 2)),
    ).toEqual([[projectId, 'search-team']]);

    let app: TestApp | undefined;
    try {
      app = databaseUrl ? await createTestApp({}, { shareDatabaseWith: { databaseUrl } as TestApp }) : await createTestApp({ XRAY_DATA_DIR: dataDir! });
      const http = app.http;
      const asAdmin = await request(http).get('/v1/api-keys').set('Authorization', `Bearer ${adminKey}`);
      expect(asAdmin.status).toBe(200);
      expect(asAdmin.body.items.map((k: { id: string }) => k.id).sort()).toEqual([adminId, ingestId, readId].sort());
      expect((await request(http).get('/v1/runs').set('Authorization', `Bearer ${readKey}`)).status).toBe(200);
      expect((await request(http).get('/v1/runs').set('Authorization', `Bearer ${ingestKey}`)).status).toBe(401);
      const projectsSeen = await request(http).get('/v1/projects').set('Authorization', `Bearer ${app.rootKey}`);
      expect(projectsSeen.body.items.map((p: { name: string }) => p.name)).toEqual(['search-team']);
      for (const pipeline of ['old', 'old', 'old', 'kept']) {
        await request(http).post('/v1/runs').set('Authorization', `Bearer ${adminKey}`).send({ pipeline }).expect(201);
      }
    } finally {
      await app?.close();
    }

    // Deleting runs by filter, two per transaction, prints its progress.
    expect((await xray('delete-runs', '--project', 'search-team')).code).toBe(2);
    const deleted = await xray('delete-runs', '--project', 'search-team', '--pipeline', 'old', '--chunk', '2');
    expect(deleted).toMatchObject({ code: 0, stderr: '' });
    expect(deleted.stdout).toMatch(
      /^Deleted 0 of 3 runs \(0 steps, 0 candidates\)\nDeleted 2 of 3 runs \(0 steps, 0 candidates\)\nDeleted 3 of 3 runs \(0 steps, 0 candidates\)\nDeletion [0-9a-f-]{36} done: 3 runs, 0 steps, 0 candidates\.\n$/,
    );
    expect((await xray('delete-runs', '-p', 'search-team', '--pipeline', 'old')).stdout).toMatch(/^Deleted 0 of 0 runs/);
  }, 240_000);
  it('exports a project to a file and imports it into another, over HTTP or against the database, with progress on stderr', async () => {
    const fileIn = (name: string) => join(copy.dir, name);
    const sameDatabase = () =>
      databaseUrl ? createTestApp({}, { shareDatabaseWith: { databaseUrl } as TestApp }) : createTestApp({ XRAY_DATA_DIR: dataDir! });
    const exportOf = async (app: TestApp, key: string) =>
      (
        await request(app.http)
          .get('/v1/export')
          .set('Authorization', `Bearer ${key}`)
          .buffer(true)
          .parse((r, cb) => {
            let text = '';
            r.on('data', (c: Buffer) => (text += c));
            r.on('end', () => cb(null, text));
          })
      ).body as string;
    const project = async (app: TestApp, name: string) =>
      (await request(app.http).post('/v1/projects').set('Authorization', `Bearer ${app.rootKey}`).send({ name }).expect(201)).body.apiKey.key as string;

    const app = await sameDatabase();
    let expected: string;
    try {
      await app.app.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${(app.app.getHttpServer().address() as { port: number }).port}`;
      const key = await project(app, 'moving-source');
      const [run, other, step] = [randomUUID(), randomUUID(), randomUUID()];
      const ev = (type: string, body: object) => ({ id: randomUUID(), type, body });
      await request(app.http)
        .post('/v1/ingest')
        .set('Authorization', `Bearer ${key}`)
        .send({
          events: [
            ev('run-create', { id: run, pipeline: 'moving', startedAt: '2026-11-01T10:00:00.000Z', tags: ['a'] }),
            ev('step-create', { id: step, runId: run, name: 'filter', type: 'filter', startedAt: '2026-11-01T10:00:00.100Z' }),
            ev('candidates-create', { stepId: step, candidates: ['x', 'y', 'z'].map((k) => ({ key: k, decision: 'rejected', reason: 'too dear' })) }),
            ev('run-update', { id: run, status: 'success', endedAt: '2026-11-01T10:00:01.000Z' }),
            ev('run-create', { id: other, pipeline: 'moving', startedAt: '2026-11-01T11:00:00.000Z', input: { big: 'x'.repeat(800) } }),
          ],
        })
        .expect(207);
      expected = await exportOf(app, key);
      expect(expected.split('\n').filter(Boolean)).toHaveLength(7);

      const saved = await xray('export', '--url', url, '--key', key, '--out', fileIn('over http.ndjson'));
      expect(saved).toMatchObject({ code: 0, stdout: `Exported 2 runs, 1 steps, 3 candidates to ${fileIn('over http.ndjson')}.\n` });
      expect(saved.stderr).toContain('exported 2 runs, 1 steps, 3 candidates');
      expect(readFileSync(fileIn('over http.ndjson'), 'utf8')).toBe(expected);

      // Parts under 1 kB: one request per run.
      const targetKey = await project(app, 'moving-over-http');
      const sent = await xray('import', fileIn('over http.ndjson'), '--url', url, '--key', targetKey, '--part-size', '1kb');
      expect(sent).toMatchObject({ code: 0, stdout: `Imported 2 runs, 1 steps, 3 candidates from ${fileIn('over http.ndjson')}.\n` });
      expect(await exportOf(app, targetKey)).toBe(expected);
      const refused = await xray('import', fileIn('over http.ndjson'), '--url', url, '--key', 'xr_not_a_key');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^xray import: .*401/);
    } finally {
      await app.close();
    }

    const direct = await xray('export', '--project', 'moving-source', '--out', fileIn('from db.ndjson'));
    expect(direct).toMatchObject({ code: 0, stdout: `Exported 2 runs, 1 steps, 3 candidates to ${fileIn('from db.ndjson')}.\n` });
    expect(readFileSync(fileIn('from db.ndjson'), 'utf8')).toBe(expected);
    // Into another database, as when moving from the embedded default to a team's PostgreSQL.
    const second = usingRealPostgres() ? await createTestDatabase(process.env.DATABASE_URL!) : undefined;
    const elsewhere = second ? { DATABASE_URL: second.url } : { DATABASE_URL: undefined, XRAY_DATA_DIR: join(copy.dir, 'second data') };
    const there = (...args: string[]) => copy.run('apps/api/src/cli.js', args, elsewhere);
    try {
      const created = await there('projects:create', 'moving-target');
      const [, targetId] = /\(([0-9a-f-]{36})\)/.exec(created.stdout)!;
      for (let i = 0; i < 2; i++) {
        const imported = await there('import', fileIn('from db.ndjson'), '--project', targetId);
        expect(imported).toMatchObject({ code: 0, stdout: `Imported 2 runs, 1 steps, 3 candidates from ${fileIn('from db.ndjson')}.\n` });
        expect(imported.stderr).toContain('imported 2 runs, 1 steps, 3 candidates');
      }
      expect(await there('export', '-p', 'moving-target', '-o', fileIn('again.ndjson'))).toMatchObject({ code: 0 });
      expect(readFileSync(fileIn('again.ndjson'), 'utf8')).toBe(expected);
    } finally {
      await second?.drop();
    }
    const usage = await xray('import', fileIn('missing.ndjson'), '--project', 'moving-target');
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('No file') });
  }, 240_000);
});
