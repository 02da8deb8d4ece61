import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { runCli } from '../src/cli.js';
import { createTestApp, triggerDdl, expectError, type TestApp, usingRealPostgres } from './harness.js';

describe('team deployments', () => {
  let t: TestApp;
  let admin: string;
  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const newKey = async (scopes: string[], extra: Record<string, unknown> = {}) => {
    const res = await request(t.http)
      .post('/v1/api-keys')
      .set(as(admin))
      .send({ name: `${scopes.join('+')} key`, scopes, ...extra });
    expect(res.status).toBe(201);
    return res.body as { id: string; key: string; prefix: string; scopes: string[] };
  };

  beforeAll(async () => {
    t = await createTestApp();
    const p = await t.newProject('team');
    admin = p.key;
  });
  afterAll(async () => t?.close());

  describe('API keys', () => {
    it('creates a scoped key whose secret appears only in the creation answer', async () => {
      const created = await request(t.http)
        .post('/v1/api-keys')
        .set(as(admin))
        .send({ name: 'checkout pipeline', scopes: ['ingest'] });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        name: 'checkout pipeline',
        prefix: expect.stringMatching(/^xr_/),
        scopes: ['ingest'],
        createdAt: expect.any(String),
        expiresAt: null,
        key: expect.stringMatching(/^xr_[0-9A-Za-z]{38}$/),
      });
      const list = await request(t.http).get('/v1/api-keys').set(as(admin));
      expect(list.status).toBe(200);
      const listed = list.body.items.find((k: { id: string }) => k.id === created.body.id);
      expect(listed).toEqual({
        id: created.body.id,
        name: 'checkout pipeline',
        prefix: created.body.prefix,
        scopes: ['ingest'],
        createdAt: created.body.createdAt,
        lastUsedAt: null,
        expiresAt: null,
        revokedAt: null,
      });
      expect(JSON.stringify(list.body)).not.toContain(created.body.key);
      expect(JSON.stringify(list.body)).not.toContain('hash');
    });

    it('revokes a key: 204, then 401 at once, and it is listed as revoked', async () => {
      const k = await newKey(['read']);
      expect((await request(t.http).get('/v1/runs').set(as(k.key))).status).toBe(200);
      expect((await request(t.http).delete(`/v1/api-keys/${k.id}`).set(as(admin))).status).toBe(204);
      expectError(await request(t.http).get('/v1/runs').set(as(k.key)), 401);
      const listed = (await request(t.http).get('/v1/api-keys').set(as(admin))).body.items.find((x: { id: string }) => x.id === k.id);
      expect(listed.revokedAt).not.toBeNull();
      expect((await request(t.http).delete(`/v1/api-keys/${k.id}`).set(as(admin))).status).toBe(204);
    });

    it('revocation takes effect at once on every API process', async () => {
      const second = await createTestApp({}, { shareDatabaseWith: t });
      try {
        const k = await newKey(['read']);
        expect((await request(second.http).get('/v1/runs').set(as(k.key))).status).toBe(200);
        expect((await request(t.http).delete(`/v1/api-keys/${k.id}`).set(as(admin))).status).toBe(204);
        expectError(await request(second.http).get('/v1/runs').set(as(k.key)), 401);
      } finally {
        await second.close();
      }
    });

    it('expires keys: 401 as soon as expiresAt passes', async () => {
      const k = await newKey(['read'], { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      expect((await request(t.http).get('/v1/runs').set(as(k.key))).status).toBe(200);
      await t.sql(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [k.id]);
      expectError(await request(t.http).get('/v1/runs').set(as(k.key)), 401);
    });

    it('validates scopes, names and expiry', async () => {
      const post = (body: object) => request(t.http).post('/v1/api-keys').set(as(admin)).send(body);
      expectError(await post({ name: 'x', scopes: ['superuser'] }), 400, 'VALIDATION_FAILED');
      expectError(await post({ name: 'x', scopes: [] }), 400, 'VALIDATION_FAILED');
      expectError(await post({ name: '', scopes: ['read'] }), 400, 'VALIDATION_FAILED');
      expectError(await post({ name: 'x', scopes: ['read'], expiresAt: '2001-01-01T00:00:00Z' }), 400, 'VALIDATION_FAILED');
      expectError(await post({ name: 'x', scopes: ['read'], projectId: randomUUID() }), 400, 'VALIDATION_FAILED');
    });

    it('answers 404 for another project’s key id and leaves that key working', async () => {
      const other = await t.newProject('elsewhere');
      const theirs = (
        await request(t.http)
          .post('/v1/api-keys')
          .set(as(other.key))
          .send({ name: 'theirs', scopes: ['read'] })
      ).body;
      expectError(await request(t.http).delete(`/v1/api-keys/${theirs.id}`).set(as(admin)), 404, 'API_KEY_NOT_FOUND');
      expectError(await request(t.http).delete(`/v1/api-keys/${randomUUID()}`).set(as(admin)), 404, 'API_KEY_NOT_FOUND');
      expect((await request(t.http).get('/v1/runs').set(as(theirs.key))).status).toBe(200);
      const mine = (await request(t.http).get('/v1/api-keys').set(as(admin))).body.items.map((k: { id: string }) => k.id);
      expect(mine).not.toContain(theirs.id);
    });

    it('records lastUsedAt without a write per request', async () => {
      const k = await newKey(['read']);
      await request(t.http).get('/v1/runs').set(as(k.key));
      const read = async () => (await t.sql<{ at: Date | null }>('SELECT last_used_at AS at FROM api_keys WHERE id = $1', [k.id]))[0].at;
      let first: Date | null = null;
      for (let i = 0; i < 50 && !first; i++) {
        first = await read();
        if (!first) await new Promise((r) => setTimeout(r, 20));
      }
      expect(first).not.toBeNull();
      for (let i = 0; i < 5; i++) await request(t.http).get('/v1/runs').set(as(k.key));
      await new Promise((r) => setTimeout(r, 100));
      expect((await read())!.getTime()).toBe(first!.getTime());
    });
  });

  describe('scopes: every route with every scope', () => {
    let keys: Record<'ingest' | 'read' | 'delete' | 'admin' | 'feedback', string>;
    let runId: string;
    let stepId: string;
    beforeAll(async () => {
      keys = {
        ingest: (await newKey(['ingest'])).key,
        read: (await newKey(['read'])).key,
        delete: (await newKey(['delete'])).key,
        admin,
        feedback: (await newKey(['feedback'])).key,
      };
      runId = (await request(t.http).post('/v1/runs').set(as(admin)).send({ pipeline: 'scopes' })).body.id;
      stepId = (await request(t.http).post(`/v1/runs/${runId}/steps`).set(as(admin)).send({ name: 's' })).body.id;
    });

    const routes = (): [string, string, 'ingest' | 'read' | 'delete' | 'admin' | 'feedback', object?][] => [
      ['post', '/v1/runs', 'ingest', { pipeline: 'p' }],
      ['patch', `/v1/runs/${runId}`, 'ingest', { status: 'running' }],
      ['post', `/v1/runs/${runId}/steps`, 'ingest', { name: 'x' }],
      ['patch', `/v1/steps/${stepId}`, 'ingest', { status: 'running' }],
      ['post', `/v1/steps/${stepId}/candidates`, 'ingest', { candidates: [{ key: 'k', decision: 'accepted' }] }],
      ['post', '/v1/ingest', 'ingest', { events: [{ id: randomUUID(), type: 'run-update', body: { id: runId, status: 'running' } }] }],
      ['get', '/v1/runs', 'read'],
      ['get', `/v1/runs/${runId}`, 'read'],
      ['get', `/v1/runs/${runId}/compare/${runId}`, 'read'],
      ['get', `/v1/steps/${stepId}`, 'read'],
      ['get', '/v1/steps?name=s', 'read'],
      ['get', `/v1/steps/${stepId}/candidates`, 'read'],
      ['get', `/v1/steps/${stepId}/candidates/summary`, 'read'],
      ['get', '/v1/candidates?key=k', 'read'],
      ['get', '/v1/analytics/pipelines/scopes', 'read'],
      ['get', '/v1/projects', 'read'],
      ['get', '/v1/api-keys', 'admin'],
      ['post', '/v1/api-keys', 'admin', { name: 'n', scopes: ['read'] }],
      ['delete', `/v1/api-keys/${randomUUID()}`, 'admin'],
      ['patch', '/v1/project', 'admin', { retentionDays: null }],
      ['delete', `/v1/runs/${randomUUID()}`, 'delete'],
      ['post', '/v1/deletions', 'delete', { pipeline: 'no-such-pipeline' }],
      ['delete', '/v1/candidates?key=no-such-key', 'delete'],
      ['get', '/v1/deletions', 'delete'],
      ['get', `/v1/deletions/${randomUUID()}`, 'delete'],
      ['post', '/v1/scores', 'feedback', { runId, name: 'thumbs', value: true }],
      ['post', '/v1/scores/batch', 'feedback', { scores: [{ runId, name: 'thumbs', value: false }] }],
      ['get', '/v1/scores', 'read'],
      ['patch', `/v1/scores/${randomUUID()}`, 'ingest', { comment: 'c' }],
      ['delete', `/v1/scores/${randomUUID()}`, 'delete'],
      ['get', '/v1/score-configs', 'read'],
      ['post', '/v1/score-configs', 'admin', { name: 'thumbs', dataType: 'boolean' }],
      ['put', '/v1/score-configs/no-such-score', 'admin', { dataType: 'boolean' }],
      ['delete', '/v1/score-configs/no-such-score', 'admin'],
    ];

    it('allows exactly the scope each route needs (admin allows all, ingest allows feedback) and 403s the rest, naming the scope', async () => {
      const outcomes: string[] = [];
      for (const [method, path, needed, body] of routes()) {
        for (const scope of ['ingest', 'read', 'delete', 'admin', 'feedback'] as const) {
          let req = (request(t.http) as unknown as Record<string, (p: string) => request.Test>)[method](path).set(as(keys[scope]));
          if (body) req = req.send(body);
          const res = await req;
          const allowed = scope === needed || scope === 'admin' || (needed === 'feedback' && scope === 'ingest');
          if (allowed) {
            if ([401, 403].includes(res.status)) outcomes.push(`${method} ${path} with ${scope}: ${res.status} (expected allowed)`);
          } else if (res.status !== 403 || !String(res.body.message).includes(`"${needed}"`)) {
            outcomes.push(`${method} ${path} with ${scope}: ${res.status} ${res.body.message} (expected 403 naming ${needed})`);
          }
        }
      }
      expect(outcomes).toEqual([]);
    });

    it('documents the scope of every operation in the OpenAPI document', async () => {
      const doc = (await request(t.http).get('/docs-json')).body;
      const missing: string[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)) {
        for (const [method, op] of Object.entries(item)) {
          if (!path.startsWith('/v1/') || path.startsWith('/v1/projects')) continue;
          // getKeyInfo answers any valid key what it is, so its documented scope is `any`.
          const scopes = path === '/v1/auth/key' ? ['any'] : ['ingest', 'read', 'delete', 'admin', 'feedback'];
          if (!scopes.includes(op['x-required-scope'] as string)) missing.push(`${method} ${path}`);
        }
      }
      expect(missing).toEqual([]);
    });
  });

  describe('rate limiting', () => {
    let limited: TestApp;
    let peer: TestApp;
    beforeAll(async () => {
      limited = await createTestApp({ XRAY_RATE_LIMIT: '10' });
      peer = await createTestApp({ XRAY_RATE_LIMIT: '10' }, { shareDatabaseWith: limited });
    });
    afterAll(async () => {
      await peer?.close();
      await limited?.close();
    });

    it('answers 429 with Retry-After past the limit, counted across API processes, per key', async () => {
      const a = await limited.newProject('burst');
      const b = await limited.newProject('calm');
      const statuses: number[] = [];
      let last: request.Response | undefined;
      for (let i = 0; i < 14; i++) {
        // Alternate between the two processes: the count is shared.
        last = await request(i % 2 ? peer.http : limited.http)
          .get('/v1/runs')
          .set(as(a.key));
        statuses.push(last.status);
      }
      // Windows are per minute; a burst that straddles a minute boundary may get a few more through.
      const ok = statuses.filter((s) => s === 200).length;
      expect(ok).toBeGreaterThanOrEqual(10);
      expect(ok).toBeLessThanOrEqual(13);
      expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
      const rejected = await request(limited.http).get('/v1/runs').set(as(a.key));
      const body = expectError(rejected, 429, 'RATE_LIMITED');
      expect(body.message).toContain('XRAY_RATE_LIMIT');
      const retryAfter = Number(rejected.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect((await request(limited.http).get('/v1/runs').set(as(b.key))).status).toBe(200);
    });
  });

  describe('HTTP hardening', () => {
    it('sends security headers and a request id, echoing a sane client one', async () => {
      const res = await request(t.http).get('/health');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBeDefined();
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['strict-transport-security']).toBeDefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const echoed = await request(t.http).get('/v1/runs').set(as(admin)).set('X-Request-Id', 'trace-123');
      expect(echoed.headers['x-request-id']).toBe('trace-123');
      const error = await request(t.http).get('/v1/runs').set('X-Request-Id', 'bad id with spaces');
      expect(error.status).toBe(401);
      expect(error.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('has CORS off by default', async () => {
      const res = await request(t.http).options('/v1/runs').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('allows configured origins only', async () => {
      const cors = await createTestApp({ XRAY_CORS_ORIGINS: 'https://dash.example.com' });
      try {
        const ok = await request(cors.http).options('/v1/runs').set('Origin', 'https://dash.example.com').set('Access-Control-Request-Method', 'GET');
        expect(ok.headers['access-control-allow-origin']).toBe('https://dash.example.com');
        const other = await request(cors.http).get('/health').set('Origin', 'https://evil.example');
        expect(other.headers['access-control-allow-origin']).not.toBe('https://evil.example');
      } finally {
        await cors.close();
      }
    });
  });

  describe('caps', () => {
    let capped: TestApp;
    let key: string;
    beforeAll(async () => {
      capped = await createTestApp({ XRAY_MAX_JSON_DEPTH: '8', XRAY_MAX_STRING_LENGTH: '1000' });
      key = (await capped.newProject()).key;
    });
    afterAll(async () => capped?.close());

    const deep = (n: number): unknown => (n === 0 ? 'leaf' : { next: deep(n - 1) });

    it('answers each cap with a clear 4xx naming the limit', async () => {
      const post = (body: unknown) =>
        request(capped.http)
          .post('/v1/runs')
          .set(as(key))
          .send(body as object);
      expect(expectError(await post({ pipeline: 'p', input: deep(10) }), 400, 'JSON_TOO_DEEP').message).toContain('XRAY_MAX_JSON_DEPTH');
      expect((await post({ pipeline: 'p', input: deep(5) })).status).toBe(201);
      expect(expectError(await post({ pipeline: 'p', metadata: { note: 'x'.repeat(1001) } }), 413, 'STRING_TOO_LONG').message).toContain(
        'XRAY_MAX_STRING_LENGTH',
      );
      const proto = await request(capped.http)
        .post('/v1/runs')
        .set(as(key))
        .set('Content-Type', 'application/json')
        .send('{"pipeline":"p","metadata":{"__proto__":{"admin":true}}}');
      expectError(proto, 400, 'FORBIDDEN_KEY');
      // A very deep body is refused without a stack overflow or a 500.
      const abyss = '['.repeat(50_000) + ']'.repeat(50_000);
      const res = await request(capped.http).post('/v1/runs').set(as(key)).set('Content-Type', 'application/json').send(abyss);
      expect(res.status).toBe(400);
    });

    // PGlite runs every statement to completion on one thread and cannot enforce
    // statement_timeout, so this guarantee (and this test) belongs to real PostgreSQL.
    // The slow statement comes from a trigger on runs (on a Citus cluster, on the workers' shards).
    const onPostgres = usingRealPostgres() ? it : it.skip;
    onPostgres('times statements out with a clear error, and the pool recovers', async () => {
      const slow = await createTestApp({ XRAY_STATEMENT_TIMEOUT_MS: '200' });
      try {
        const k = (await slow.newProject()).key;
        await slow.sql(`CREATE FUNCTION xray_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN IF NEW.pipeline = 'slow' THEN PERFORM pg_sleep(2); END IF; RETURN NEW; END $$`);
        await triggerDdl(slow, `CREATE TRIGGER xray_test_slow BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION xray_test_slow()`);
        const started = Date.now();
        const res = await request(slow.http).post('/v1/runs').set(as(k)).send({ pipeline: 'slow' });
        expect(Date.now() - started).toBeLessThan(1800);
        expect(expectError(res, 503, 'STATEMENT_TIMEOUT').message).toContain('XRAY_STATEMENT_TIMEOUT_MS');
        expect(res.headers['retry-after']).toBeDefined();
        for (let i = 0; i < 5; i++) expect((await request(slow.http).post('/v1/runs').set(as(k)).send({ pipeline: 'fast' })).status).toBe(201);
      } finally {
        await slow.close();
      }
    });
  });

  describe('health', () => {
    it('answers liveness and readiness, and is not ready with a migration pending', async () => {
      expect((await request(t.http).get('/health/live')).body).toEqual({ status: 'ok' });
      const ready = await request(t.http).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ok', database: 'up', migrations: 'applied' });
      const other = await createTestApp();
      try {
        await other.sql(`DELETE FROM migrations WHERE name LIKE 'AddRateLimitCounters%'`);
        const pending = await request(other.http).get('/health/ready');
        expect(pending.status).toBe(503);
        expect(pending.body).toEqual({ status: 'unavailable', database: 'up', migrations: 'pending' });
      } finally {
        await other.close();
      }
    });
  });

  describe('operator CLI', () => {
    it('creates a project and keys, and revokes a key, without HTTP', async () => {
      const lines: string[] = [];
      const saved = process.env.DATABASE_URL;
      process.env.DATABASE_URL = t.databaseUrl;
      try {
        const name = `cli-${randomUUID().slice(0, 8)}`;
        await runCli(['projects:create', name], (l) => lines.push(l));
        const adminKey = /(xr_[0-9A-Za-z]{38})/.exec(lines.join('\n'))![1];
        expect((await request(t.http).get('/v1/api-keys').set(as(adminKey))).status).toBe(200);
        await runCli(['keys:create', '--project', name, '--scopes', 'ingest'], (l) => lines.push(l));
        const ingestLine = lines[lines.length - 1];
        const [, keyId, ingestKey] = /^Key ([0-9a-f-]{36}) .*(xr_[0-9A-Za-z]{38})$/.exec(ingestLine)!;
        expect((await request(t.http).post('/v1/runs').set(as(ingestKey)).send({ pipeline: 'cli' })).status).toBe(201);
        expectError(await request(t.http).get('/v1/runs').set(as(ingestKey)), 403, 'INSUFFICIENT_SCOPE');
        await runCli(['keys:revoke', keyId], (l) => lines.push(l));
        expectError(await request(t.http).post('/v1/runs').set(as(ingestKey)).send({ pipeline: 'cli' }), 401);
        await expect(runCli(['keys:create', '--project', name, '--scopes', 'root'], () => undefined)).rejects.toThrow(/--scopes/);
      } finally {
        if (saved === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = saved;
      }
    });
  });
});
