import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

describe('GET /v1/auth/key', () => {
  let t: TestApp;
  let project: { id: string; key: string };
  const info = (key?: string, header: 'bearer' | 'x-api-key' = 'bearer') => {
    const req = request(t.http).get('/v1/auth/key');
    if (key === undefined) return req;
    return header === 'bearer' ? req.set('Authorization', `Bearer ${key}`) : req.set('X-API-Key', key);
  };
  const createKey = async (body: object) => {
    const res = await request(t.http).post('/v1/api-keys').set('Authorization', `Bearer ${project.key}`).send(body);
    expect(res.status).toBe(201);
    return res.body as { id: string; key: string };
  };

  beforeAll(async () => {
    t = await createTestApp();
    project = await t.newProject('keyinfo');
  });
  afterAll(async () => t?.close());

  it('describes a project key of every scope: project, key id and name, scopes, expiry', async () => {
    const [{ name: projectName }] = await t.sql<{ name: string }>('SELECT name FROM projects WHERE id = $1', [project.id]);
    const expiresAt = '2030-01-31T12:00:00.000Z';
    const read = await createKey({ name: 'dashboard', scopes: ['read'], expiresAt });
    const ingest = await createKey({ name: 'ranker (prod)', scopes: ['ingest'] });
    const both = await createKey({ name: 'ci', scopes: ['ingest', 'read'] });
    for (const [key, keyId, keyName, scopes, expiry] of [
      [read.key, read.id, 'dashboard', ['read'], expiresAt],
      [ingest.key, ingest.id, 'ranker (prod)', ['ingest'], null],
      [both.key, both.id, 'ci', ['ingest', 'read'], null],
    ] as const) {
      for (const header of ['bearer', 'x-api-key'] as const) {
        const res = await info(key, header);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ root: false, projectId: project.id, projectName, keyId, keyName, scopes, expiresAt: expiry });
      }
    }
    const admin = await info(project.key);
    expect(admin.body).toMatchObject({ root: false, projectId: project.id, projectName, scopes: ['admin'], expiresAt: null });
    expect(admin.body.keyId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('describes the root key as root, with no project', async () => {
    const res = await info(t.rootKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ root: true, projectId: null, projectName: null, keyId: null, keyName: null, scopes: [], expiresAt: null });
  });

  it('answers 401 without a valid key: missing, malformed, unknown, revoked', async () => {
    const revoked = await createKey({ name: 'old', scopes: ['read'] });
    await request(t.http).delete(`/v1/api-keys/${revoked.id}`).set('Authorization', `Bearer ${project.key}`).expect(204);
    const unknown = `${project.key.slice(0, 3)}${'A'.repeat(project.key.length - 3)}`;
    for (const res of [await info(), await info('xr_not-a-key'), await info(unknown), await info(revoked.key), await info(`${t.rootKey}x`)]) {
      expectError(res, 401, 'UNAUTHORIZED');
    }
  });

  it('is documented as open to any key, with its security requirement', async () => {
    const doc = (await request(t.http).get('/docs-json')).body;
    const op = doc.paths['/v1/auth/key'].get;
    expect(op).toMatchObject({ operationId: 'getKeyInfo', 'x-required-scope': 'any', security: [{ bearer: [] }, { 'api-key': [] }] });
    expect(Object.keys(op.responses).sort()).toEqual(['200', '401', '429']);
  });
});
