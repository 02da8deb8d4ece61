import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { generateApiKey } from '../src/auth/api-key.util.js';
import { createTestApp, expectError, type TestApp } from './harness.js';

describe('auth and tenancy', () => {
  let t: TestApp;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  /** Ids that exist in project A. */
  let runA: string;
  let stepA: string;

  beforeAll(async () => {
    t = await createTestApp();
    a = await t.newProject('alpha');
    b = await t.newProject('beta');
    runA = (await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${a.key}`).send({ pipeline: 'secret-pipeline' })).body.id;
    stepA = (await request(t.http).post(`/v1/runs/${runA}/steps`).set('Authorization', `Bearer ${a.key}`).send({ name: 'filter' })).body.id;
    await request(t.http)
      .post(`/v1/steps/${stepA}/candidates`)
      .set('Authorization', `Bearer ${a.key}`)
      .send({ candidates: [{ key: 'B0XYZ', decision: 'rejected', reason: 'price' }] });
  });
  afterAll(async () => t?.close());

  /** Every project route, with a body that would be valid. */
  const routes = () =>
    [
      ['post', '/v1/runs', { pipeline: 'p' }],
      ['get', '/v1/runs', undefined],
      ['get', `/v1/runs/${runA}`, undefined],
      ['patch', `/v1/runs/${runA}`, { status: 'success' }],
      ['post', `/v1/runs/${runA}/steps`, { name: 's' }],
      ['get', `/v1/steps/${stepA}`, undefined],
      ['patch', `/v1/steps/${stepA}`, { status: 'success' }],
      ['post', `/v1/steps/${stepA}/candidates`, { candidates: [{ key: 'k', decision: 'accepted' }] }],
      ['get', `/v1/steps/${stepA}/candidates`, undefined],
      ['get', `/v1/steps/${stepA}/candidates/summary`, undefined],
    ] as const;

  const call = (method: string, path: string, body: object | undefined, headers: Record<string, string>) => {
    const req = (request(t.http) as unknown as Record<string, (p: string) => request.Test>)[method](path).set(headers);
    return body ? req.send(body) : req;
  };

  it.each([
    ['no key', {}],
    ['an unknown well-formed key', { Authorization: `Bearer ${generateApiKey().key}` }],
    ['a malformed key', { Authorization: 'Bearer hello' }],
    ['a key with a wrong checksum', { Authorization: 'Bearer xr_00000000000000000000000000000000000000' }],
    ['a non-bearer scheme', { Authorization: 'Basic dXNlcjpwYXNz' }],
  ])('answers 401 on every route with %s', async (_label, headers) => {
    for (const [method, path, body] of routes()) {
      const res = await call(method, path, body, headers as Record<string, string>);
      expectError(res, 401, 'UNAUTHORIZED');
    }
    expectError(
      await request(t.http)
        .get('/v1/projects')
        .set(headers as Record<string, string>),
      401,
    );
    expectError(
      await request(t.http)
        .post('/v1/projects')
        .set(headers as Record<string, string>)
        .send({ name: 'x' }),
      401,
    );
  });

  it('rejects a truncated or mistyped real key', async () => {
    const truncated = a.key.slice(0, -1);
    const mistyped = a.key.slice(0, 10) + (a.key[10] === 'a' ? 'b' : 'a') + a.key.slice(11);
    expectError(await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${truncated}`), 401);
    expectError(await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${mistyped}`), 401);
  });

  it('accepts the key as X-API-Key too', async () => {
    const res = await request(t.http).get(`/v1/runs/${runA}`).set('X-API-Key', a.key);
    expect(res.status).toBe(200);
  });

  it('answers 401 at once for a revoked key', async () => {
    const c = await t.newProject('revoked');
    expect((await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${c.key}`)).status).toBe(200);
    await t.sql('UPDATE api_keys SET revoked_at = now() WHERE project_id = $1', [c.id]);
    expectError(await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${c.key}`), 401);
  });

  it('answers 404 for another project’s ids on every route, exactly like an unknown id', async () => {
    for (const [method, path, body] of routes()) {
      if (!path.includes(runA) && !path.includes(stepA)) continue;
      const foreign = await call(method, path, body, { Authorization: `Bearer ${b.key}` });
      const unknown = await call(method, path.replace(runA, randomUUID()).replace(stepA, randomUUID()), body, {
        Authorization: `Bearer ${b.key}`,
      });
      expect({ path, method, status: foreign.status }).toEqual({ path, method, status: 404 });
      expect(foreign.body.error).toBe(unknown.body.error);
    }
    // Nothing of A's changed.
    const run = await request(t.http).get(`/v1/runs/${runA}`).set('Authorization', `Bearer ${a.key}`);
    expect(run.body).toMatchObject({ status: 'running', steps: [{ id: stepA, status: 'running', candidatesIn: 1 }] });
  });

  it('never lists another project’s data', async () => {
    const list = await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${b.key}`).query({ pipeline: 'secret-pipeline' });
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
    const all = await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${b.key}`);
    expect(all.body.items.map((r: { id: string }) => r.id)).not.toContain(runA);
  });

  it('keeps ids per project: another project’s run id names a new run here, and theirs is neither revealed nor changed', async () => {
    const res = await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${b.key}`).send({ id: runA, pipeline: 'hijack' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: runA, pipeline: 'hijack' });
    expect(JSON.stringify(res.body)).not.toContain('secret-pipeline');
    const run = await request(t.http).get(`/v1/runs/${runA}`).set('Authorization', `Bearer ${a.key}`);
    expect(run.body.pipeline).toBe('secret-pipeline');
  });

  it('rejects projectId in any body with 400', async () => {
    const res = await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${b.key}`).send({ pipeline: 'p', projectId: a.id });
    expectError(res, 400, 'VALIDATION_FAILED');
    const step = await request(t.http).patch(`/v1/steps/${stepA}`).set('Authorization', `Bearer ${a.key}`).send({ projectId: b.id });
    expectError(step, 400, 'VALIDATION_FAILED');
  });

  describe('projects', () => {
    it('lets the root key create projects, each with an admin key shown once', async () => {
      const res = await request(t.http).post('/v1/projects').set('Authorization', `Bearer ${t.rootKey}`).send({ name: 'gamma-team' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        id: expect.any(String),
        name: 'gamma-team',
        createdAt: expect.any(String),
        apiKey: {
          id: expect.any(String),
          name: expect.any(String),
          prefix: expect.stringMatching(/^xr_/),
          scopes: ['admin'],
          key: expect.stringMatching(/^xr_[0-9A-Za-z]{38}$/),
        },
      });
      expect(res.body.apiKey.key.startsWith(res.body.apiKey.prefix)).toBe(true);
      // Only a hash and the prefix are stored.
      const rows = await t.sql<{ hash: string; prefix: string }>('SELECT hash, prefix FROM api_keys WHERE id = $1', [res.body.apiKey.id]);
      expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(await t.sql('SELECT * FROM api_keys'))).not.toContain(res.body.apiKey.key);
      const dup = await request(t.http).post('/v1/projects').set('Authorization', `Bearer ${t.rootKey}`).send({ name: 'gamma-team' });
      expectError(dup, 409, 'PROJECT_EXISTS');
    });

    it('lists every project for the root key and only its own for a project key', async () => {
      const root = await request(t.http).get('/v1/projects').set('Authorization', `Bearer ${t.rootKey}`);
      expect(root.status).toBe(200);
      const names = root.body.items.map((p: { name: string }) => p.name);
      expect(names).toEqual(expect.arrayContaining(['default']));
      expect(root.body.items.length).toBeGreaterThanOrEqual(3);
      const own = await request(t.http).get('/v1/projects').set('Authorization', `Bearer ${a.key}`);
      expect(own.status).toBe(200);
      expect(own.body.items).toEqual([expect.objectContaining({ id: a.id })]);
    });

    it('forbids project keys from creating projects and the root key from project data', async () => {
      expectError(await request(t.http).post('/v1/projects').set('Authorization', `Bearer ${a.key}`).send({ name: 'x' }), 403);
      expectError(await request(t.http).get('/v1/runs').set('Authorization', `Bearer ${t.rootKey}`), 403);
    });

    it('validates project names', async () => {
      for (const name of ['', 'has space', 'x'.repeat(101), 5]) {
        expectError(await request(t.http).post('/v1/projects').set('Authorization', `Bearer ${t.rootKey}`).send({ name }), 400, 'VALIDATION_FAILED');
      }
    });
  });

  describe('without XRAY_ROOT_KEY', () => {
    let noRoot: TestApp;
    beforeAll(async () => {
      noRoot = await createTestApp({ XRAY_ROOT_KEY: '' });
    });
    afterAll(async () => noRoot?.close());

    it('answers 401 to everyone on project management', async () => {
      expectError(await request(noRoot.http).post('/v1/projects').set('Authorization', `Bearer ${t.rootKey}`).send({ name: 'x' }), 401);
      expectError(await request(noRoot.http).post('/v1/projects').send({ name: 'x' }), 401);
    });

    it('created the default project with an admin key on first start', async () => {
      const rows = await noRoot.sql<{ name: string; scopes: string[] }>('SELECT p.name, k.scopes FROM projects p JOIN api_keys k ON k.project_id = p.id');
      expect(rows).toEqual([{ name: 'default', scopes: ['admin'] }]);
    });
  });
});
