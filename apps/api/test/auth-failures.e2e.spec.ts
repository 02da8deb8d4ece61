import request from 'supertest';
import { generateApiKey } from '../src/auth/api-key.util.js';
import { createTestApp, expectError, type TestApp } from './harness.js';

/**
 * XRAY_AUTH_FAILURE_LIMIT: a client address that fails authentication too often in a minute
 * is refused (429) before any key lookup, so a flood of made-up but well-formed keys costs the
 * database nothing. XRAY_TRUST_PROXY decides whether X-Forwarded-For names the client.
 */
describe('failed authentications per client address', () => {
  const made = () => generateApiKey().key; // well-formed (checksum passes), known to no project

  describe('behind a trusted proxy (XRAY_TRUST_PROXY=loopback)', () => {
    let t: TestApp;
    let key: string;
    beforeAll(async () => {
      t = await createTestApp({ XRAY_AUTH_FAILURE_LIMIT: '3', XRAY_TRUST_PROXY: 'loopback' });
      key = (await t.newProject('authfail')).key;
    });
    afterAll(async () => t?.close());

    const from = (address: string, k: string) => request(t.http).get('/v1/runs').set('X-Forwarded-For', address).set('Authorization', `Bearer ${k}`);

    it('answers 401 up to the limit, then 429 with Retry-After to every key from that address, and only that address', async () => {
      for (let i = 0; i < 3; i++) expectError(await from('203.0.113.7', made()), 401, 'UNAUTHORIZED');
      const refused = await from('203.0.113.7', key);
      expectError(refused, 429, 'TOO_MANY_AUTH_FAILURES');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      // A request with a body is refused before its body is read, the same way.
      const post = await request(t.http)
        .post('/v1/runs')
        .set('X-Forwarded-For', '203.0.113.7')
        .set('Authorization', `Bearer ${key}`)
        .send({ pipeline: 'authfail' });
      expectError(post, 429, 'TOO_MANY_AUTH_FAILURES');
      expect((await t.sql(`SELECT count(*)::int AS n FROM runs WHERE pipeline = 'authfail'`))[0]).toEqual({ n: 0 });
      // Malformed keys (a typo: the checksum fails) cost no lookup and are neither counted nor refused.
      const other = (k: string) => from('203.0.113.9', k);
      for (let i = 0; i < 5; i++) expectError(await other(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`), 401, 'UNAUTHORIZED');
      expect((await other(key)).status).toBe(200);
      // Another client is not affected, and successes do not count.
      for (let i = 0; i < 5; i++) expect((await from('203.0.113.8', key)).status).toBe(200);
      expect((await from('203.0.113.8', made())).status).toBe(401);
    });
  });

  describe('without a trusted proxy (the default)', () => {
    let t: TestApp;
    let key: string;
    beforeAll(async () => {
      t = await createTestApp({ XRAY_AUTH_FAILURE_LIMIT: '2' });
      key = (await t.newProject('authfail')).key;
    });
    afterAll(async () => t?.close());

    it('ignores X-Forwarded-For, so a caller cannot dodge the limit by inventing addresses', async () => {
      const from = (address: string, k: string) => request(t.http).get('/v1/runs').set('X-Forwarded-For', address).set('Authorization', `Bearer ${k}`);
      expectError(await from('192.0.2.1', made()), 401, 'UNAUTHORIZED');
      expectError(await from('192.0.2.2', made()), 401, 'UNAUTHORIZED');
      expectError(await from('192.0.2.3', key), 429, 'TOO_MANY_AUTH_FAILURES');
    });
  });
});
