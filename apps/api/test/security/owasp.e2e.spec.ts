import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { jest } from '@jest/globals';
import { generateApiKey } from '../../src/auth/api-key.util.js';
import { ApiKeysService } from '../../src/auth/api-keys.service.js';
import { createTestApp, expectError, type TestApp, usingRealPostgres } from '../harness.js';
import {
  CapturingLogger,
  errorShapeProblem,
  fillPath,
  findLeaks,
  fingerprint,
  loadOperations,
  minimalBody,
  type OpenApiDoc,
  type Operation,
  pathValues,
  type ResourceIds,
  resolveSchema,
  send,
  undeclaredKeys,
} from './support.js';

/**
 * The OWASP API Security Top 10 (2023), as tests. Routes are enumerated from the app's own
 * OpenAPI document, so a new route is checked without touching this file.
 */
interface Tenant extends ResourceIds {
  id: string;
  admin: string;
  keys: { ingest: string; read: string; delete: string; feedback: string; admin: string };
  stepName: string;
  candidateKey: string;
}

describe(`OWASP API Security Top 10 (${usingRealPostgres() ? 'PostgreSQL' : 'embedded'})`, () => {
  let t: TestApp;
  let logger: CapturingLogger;
  let doc: OpenApiDoc;
  let operations: Operation[];
  let a: Tenant;
  let b: Tenant;
  /** Every key created, so no answer or log line may contain one. */
  const secrets: string[] = [];
  const tried = new Map<string, number>();
  const count = (what: string, n = 1) => tried.set(what, (tried.get(what) ?? 0) + n);

  const as = (key: string) => ({ Authorization: `Bearer ${key}` });

  async function tenant(label: string): Promise<Tenant> {
    const p = await t.newProject(label);
    const marker = `${label}-${randomUUID().slice(0, 8)}`;
    const post = async (path: string, body: object, key = p.key) => {
      const res = await request(t.http).post(path).set(as(key)).send(body);
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${res.text}`);
      return res.body;
    };
    const runId = (await post('/v1/runs', { pipeline: `${marker}-pipeline`, input: { secret: marker } })).id;
    const otherRunId = (await post('/v1/runs', { pipeline: `${marker}-pipeline` })).id;
    const stepId = (await post(`/v1/runs/${runId}/steps`, { name: `${marker}-step` })).id;
    await post(`/v1/steps/${stepId}/candidates`, { candidates: [{ key: `${marker}-item`, decision: 'rejected', reason: `${marker}-reason` }] });
    const key = async (scopes: string[]) => post('/v1/api-keys', { name: `${marker} ${scopes.join('+')}`, scopes });
    const ingest = await key(['ingest']);
    const read = await key(['read']);
    const del = await key(['delete']);
    const feedback = await key(['feedback']);
    const victim = await key(['read']);
    secrets.push(p.key, ingest.key, read.key, del.key, feedback.key, victim.key);
    const deletableRunId = (await post('/v1/runs', { pipeline: `${marker}-pipeline` })).id;
    const erased = await request(t.http)
      .delete('/v1/candidates')
      .query({ key: `${marker}-never-stored` })
      .set(as(p.key));
    if (erased.status !== 200) throw new Error(`erasing: ${erased.status} ${erased.text}`);
    return {
      id: p.id,
      admin: p.key,
      keys: { ingest: ingest.key, read: read.key, delete: del.key, feedback: feedback.key, admin: p.key },
      projectId: p.id,
      runId,
      deletableRunId,
      deletionId: erased.body.id,
      otherRunId,
      stepId,
      apiKeyId: victim.id,
      pipeline: `${marker}-pipeline`,
      stepName: `${marker}-step`,
      candidateKey: `${marker}-item`,
    };
  }

  beforeAll(async () => {
    logger = new CapturingLogger();
    // The suite sends several unauthenticated requests per operation within a minute, more than
    // the default per-address failure limit (auth-failures.e2e.spec.ts covers that limit).
    t = await createTestApp({ XRAY_AUTH_FAILURE_LIMIT: '2000' }, { logger });
    secrets.push(t.rootKey);
    a = await tenant('alpha');
    b = await tenant('beta');
    ({ doc, operations } = await loadOperations(t.http));
  }, 180_000);

  afterAll(async () => {
    console.log(
      `OWASP API Top 10 (${usingRealPostgres() ? 'PostgreSQL' : 'embedded'}): ${operations?.length ?? 0} operations from the OpenAPI document\n` +
        [...tried.entries()].map(([what, n]) => `  ${what.padEnd(64)} ${n}`).join('\n'),
    );
    await t?.close();
  });

  const keyFor = (op: Operation, tenantOrRoot: Tenant | 'root') =>
    tenantOrRoot === 'root' ? t.rootKey : op.access === 'root' || op.access === 'root-or-read' ? t.rootKey : tenantOrRoot.admin;
  const body = (op: Operation) => (op.body ? JSON.stringify(minimalBody(doc, op.body)) : undefined);
  const call = (op: Operation, ids: ResourceIds, headers: Record<string, string>, bodyText = body(op), query?: string) =>
    send(t.http, { method: op.method, path: fillPath(op.path, pathValues(op, ids)), bodyText, headers, query });
  const projectOps = () => operations.filter((op) => op.access !== 'public');
  // Project-key routes with ids (the root key manages every project, so a project id is never foreign to it).
  const idOps = () => operations.filter((op) => !['public', 'root'].includes(op.access) && op.pathParams.some((p) => p.schema.format === 'uuid'));

  describe('API1 Broken Object Level Authorization', () => {
    it('answers another project’s ids with 404 on every route, exactly like unknown ids, and changes nothing', async () => {
      const problems: string[] = [];
      const unknown: ResourceIds = { runId: randomUUID(), otherRunId: randomUUID(), stepId: randomUUID(), apiKeyId: randomUUID(), pipeline: 'none' };
      for (const op of idOps()) {
        // All of A's ids, then A's id in one place and B's own elsewhere (compare with a foreign run).
        const variants: [string, ResourceIds][] = [['all foreign', a]];
        if (op.pathParams.filter((p) => p.schema.format === 'uuid').length > 1) variants.push(['one foreign', { ...b, otherRunId: a.runId }]);
        for (const [label, ids] of variants) {
          const before = await fingerprint(t);
          const foreign = await call(op, ids, as(b.admin));
          const missing = await call(op, { ...unknown, ...(label === 'one foreign' ? { runId: b.runId } : {}) }, as(b.admin));
          count('API1 foreign ids on routes with ids');
          if (foreign.status !== 404) problems.push(`${op.operationId} (${label}): ${foreign.status} ${foreign.text.slice(0, 200)}`);
          else if (foreign.body.error !== missing.body.error)
            problems.push(`${op.operationId} (${label}): ${foreign.body.error} differs from unknown id's ${missing.body.error}`);
          if (JSON.stringify(await fingerprint(t)) !== JSON.stringify(before)) problems.push(`${op.operationId} (${label}): wrote something`);
        }
      }
      expect(problems).toEqual([]);
      // A's data is as it was.
      const run = await request(t.http).get(`/v1/runs/${a.runId}`).set(as(a.admin));
      expect(run.body).toMatchObject({ status: 'running', steps: [{ id: a.stepId, status: 'running', candidatesIn: 1 }] });
      expect((await request(t.http).get('/v1/api-keys').set(as(a.admin))).body.items.every((k: { revokedAt: unknown }) => k.revokedAt === null)).toBe(true);
    });

    it('never returns another project’s data from lists, searches and analytics, even when asked by name', async () => {
      const aValues: Record<string, string> = {
        pipeline: a.pipeline,
        name: a.stepName,
        key: a.candidateKey,
        reason: `${a.pipeline.replace('-pipeline', '')}-reason`,
      };
      const aMarker = a.pipeline.replace('-pipeline', '');
      const problems: string[] = [];
      for (const op of projectOps().filter((o) => o.method === 'get' && !o.pathParams.some((p) => p.schema.format === 'uuid'))) {
        const query = op.queryParams
          .filter((p) => aValues[p.name] !== undefined)
          .map((p) => `${p.name}=${encodeURIComponent(aValues[p.name])}`)
          .join('&');
        for (const key of [b.admin, ...(op.access === 'root-or-read' ? [b.keys.read] : [])]) {
          const res = await call(op, { ...b, pipeline: a.pipeline }, as(key), undefined, query || undefined);
          count('API1 lists and searches asked for another project’s data');
          if (res.status !== 200) problems.push(`${op.operationId}: ${res.status} ${res.text.slice(0, 200)}`);
          // (Analytics echoes the pipeline name it was asked for; nothing else of A's may appear.)
          // The rejection question echoes the score name it was asked about; nothing else of A's may appear.
          const answer = op.operationId === 'getScoreRejections' ? JSON.stringify({ ...res.body, name: undefined }) : res.text;
          for (const leaked of [a.runId, a.otherRunId, a.stepId, a.apiKeyId, a.id, a.stepName, a.candidateKey, `${aMarker}-reason`]) {
            if (answer.includes(leaked)) problems.push(`${op.operationId}?${query}: answer contains ${leaked}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('refuses batch events naming another project’s runs and steps; its ids name other entities here', async () => {
      const before = await fingerprint(t);
      const res = await request(t.http)
        .post('/v1/ingest')
        .set(as(b.admin))
        .send({
          events: [
            { id: randomUUID(), type: 'run-update', body: { id: a.runId, status: 'success' } },
            { id: randomUUID(), type: 'step-create', body: { id: randomUUID(), runId: a.runId, name: 'x' } },
            { id: randomUUID(), type: 'step-create', body: { id: randomUUID(), runId: b.runId, parentStepId: a.stepId, name: 'x' } },
            { id: randomUUID(), type: 'step-update', body: { id: a.stepId, status: 'error' } },
            { id: randomUUID(), type: 'candidates-create', body: { stepId: a.stepId, candidates: [{ key: 'k', decision: 'accepted' }] } },
          ],
        });
      count('API1 batch events naming another project’s ids', 7);
      expect(res.status).toBe(207);
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([404, 404, 404, 404, 404]);
      expect(JSON.stringify(res.body)).not.toContain(a.pipeline);
      expect(await fingerprint(t)).toEqual(before);
      const parent = await request(t.http).post(`/v1/runs/${b.runId}/steps`).set(as(b.admin)).send({ name: 'x', parentStepId: a.stepId });
      expectError(parent, 404, 'PARENT_STEP_NOT_FOUND');
      // Ids are per project: A's run and step ids, used by B, create B's own run and step and
      // leave A's untouched (and nothing in the answer tells B that A has them).
      const aBefore = await fingerprint(t, a.id);
      const reuse = await request(t.http)
        .post('/v1/ingest')
        .set(as(b.admin))
        .send({
          events: [
            { id: randomUUID(), type: 'run-create', body: { id: a.runId, pipeline: 'hijack' } },
            { id: randomUUID(), type: 'step-create', body: { id: a.stepId, runId: b.runId, name: 'hijack' } },
          ],
        });
      expect(reuse.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201]);
      expect(JSON.stringify(reuse.body)).not.toContain(a.pipeline);
      expect(await fingerprint(t, a.id)).toEqual(aBefore);
      count('API1 batch events naming another project’s ids');
    });
  });

  describe('API2 Broken Authentication', () => {
    let revoked: string;
    let expired: string;
    beforeAll(async () => {
      const r = (
        await request(t.http)
          .post('/v1/api-keys')
          .set(as(a.admin))
          .send({ name: 'revoked', scopes: ['admin'] })
      ).body;
      await request(t.http).delete(`/v1/api-keys/${r.id}`).set(as(a.admin)).expect(204);
      const e = (
        await request(t.http)
          .post('/v1/api-keys')
          .set(as(a.admin))
          .send({ name: 'expired', scopes: ['admin'], expiresAt: new Date(Date.now() + 3_600_000).toISOString() })
      ).body;
      await t.sql(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [e.id]);
      revoked = r.key;
      expired = e.key;
      secrets.push(revoked, expired);
    });

    const credentials = (): [string, Record<string, string>][] => {
      const flip = (k: string, i: number) => k.slice(0, i) + (k[i] === 'a' ? 'b' : 'a') + k.slice(i + 1);
      return [
        ['no key', {}],
        ['an empty bearer', { Authorization: 'Bearer ' }],
        ['a bare scheme', { Authorization: 'Bearer' }],
        ['a malformed key', { Authorization: 'Bearer hello' }],
        ['a key with a wrong checksum', { Authorization: `Bearer ${flip(a.admin, a.admin.length - 1)}` }],
        ['a mistyped key', { Authorization: `Bearer ${flip(a.admin, 8)}` }],
        ['a truncated key', { Authorization: `Bearer ${a.admin.slice(0, -1)}` }],
        ['a key with trailing text', { Authorization: `Bearer ${a.admin} extra` }],
        ['an unknown well-formed key', { Authorization: `Bearer ${generateApiKey().key}` }],
        ['a revoked key', { Authorization: `Bearer ${revoked}` }],
        ['a revoked key as X-API-Key', { 'X-API-Key': revoked }],
        ['an expired key', { Authorization: `Bearer ${expired}` }],
        ['the key as a Basic password', { Authorization: `Basic ${Buffer.from(`x:${a.admin}`).toString('base64')}` }],
        ['the key as a cookie', { Cookie: `api_key=${a.admin}` }],
        ['a mistyped root key', { Authorization: `Bearer ${flip(t.rootKey, 10)}` }],
        ['a revoked key before a valid X-API-Key', { Authorization: `Bearer ${revoked}`, 'X-API-Key': a.admin }],
      ];
    };

    it('answers 401 on every route for missing, malformed, mistyped, unknown, revoked and expired keys, before reading the body', async () => {
      const problems: string[] = [];
      const messages = new Map<string, string>();
      for (const op of projectOps()) {
        for (const [label, headers] of credentials()) {
          for (const bodyText of op.body ? [body(op), '{"broken":'] : [undefined]) {
            const res = await call(op, a, headers, bodyText);
            count('API2 bad credentials on every route');
            const shape = res.status === 401 ? errorShapeProblem(res) : undefined;
            if (res.status !== 401 || shape)
              problems.push(
                `${op.operationId} with ${label}${bodyText?.startsWith('{"broken') ? ' and a malformed body' : ''}: ${res.status} ${shape ?? res.text.slice(0, 120)}`,
              );
            else if (res.headers['www-authenticate'] !== 'Bearer realm="xray"') problems.push(`${op.operationId} with ${label}: no WWW-Authenticate`);
            if (res.status === 401 && ['an unknown well-formed key', 'a revoked key', 'an expired key'].includes(label)) messages.set(label, res.body.message);
          }
        }
        // The key in the query string is not a credential.
        const inQuery = await call(op, a, {}, body(op), `api_key=${a.admin}&key=${a.admin}`);
        count('API2 bad credentials on every route');
        if (inQuery.status !== 401) problems.push(`${op.operationId} with the key in the query: ${inQuery.status}`);
      }
      expect(problems).toEqual([]);
      // Unknown, revoked and expired keys are indistinguishable to the caller.
      expect(new Set(messages.values()).size).toBe(1);
    });

    it('refuses the root key on project routes (403) and project keys on root routes (403); public routes need no key', async () => {
      const problems: string[] = [];
      for (const op of operations) {
        if (op.access === 'public') {
          const res = await call(op, a, {});
          count('API2 public routes without a key');
          if (res.status !== 200) problems.push(`${op.operationId} (public): ${res.status}`);
          if (!op.path.startsWith('/health')) problems.push(`${op.operationId}: public but not a health route`);
          continue;
        }
        if (op.access === 'root') {
          const res = await call(op, a, as(a.admin));
          count('API2 root routes with a project key');
          if (res.status !== 403) problems.push(`${op.operationId} with a project admin key: ${res.status}`);
        } else if (op.access === 'any') {
          const res = await call(op, a, as(t.rootKey));
          count('API2 any-key routes with the root key');
          if (res.status !== 200) problems.push(`${op.operationId} (any key) with the root key: ${res.status}`);
        } else if (op.access !== 'root-or-read') {
          const res = await call(op, a, as(t.rootKey));
          count('API2 project routes with the root key');
          if (res.status !== 403) problems.push(`${op.operationId} with the root key: ${res.status}`);
        }
      }
      expect(problems).toEqual([]);
    });
  });

  describe('API3 Broken Object Property Level Authorization', () => {
    /** Fields of the answer a body op gives that its request does not take: only the server sets them. */
    const serverOwned = (op: Operation): string[] => {
      const response = resolveSchema(doc, op.responses['201'] ?? op.responses['200']);
      const requestProps = resolveSchema(doc, op.body).properties ?? {};
      const fromResponse = Object.keys(response.properties ?? {}).filter((k) => !(k in requestProps));
      return [
        ...new Set([...fromResponse, 'projectId', 'project_id', 'storedIn', 'candidatesStored', 'eliminationRatio', 'durationMs', 'createdAt', 'updatedAt']),
      ].filter((k) => !(k in requestProps));
    };
    const plausible = (field: string): unknown =>
      /At$/.test(field) ? new Date().toISOString() : /Id$|^id$/.test(field) ? b.id : /Ms$|Ratio$|Stored$|stored|count|position|In$|Out$/i.test(field) ? 0 : 'x';

    it('refuses server-owned fields (projectId, counts, timestamps the server sets) in every body, writing nothing', async () => {
      const problems: string[] = [];
      for (const op of operations.filter((o) => o.body)) {
        const ids = op.access === 'root' ? a : a;
        for (const field of serverOwned(op)) {
          const base = minimalBody(doc, op.body) as Record<string, unknown>;
          const before = await fingerprint(t);
          const res = await call(op, ids, as(keyFor(op, a)), JSON.stringify({ ...base, [field]: plausible(field) }));
          count('API3 server-owned fields in bodies');
          if (res.status !== 400 || !JSON.stringify(res.body.details ?? []).includes(field)) {
            problems.push(`${op.operationId} + ${field}: ${res.status} ${res.text.slice(0, 150)}`);
          }
          if (JSON.stringify(await fingerprint(t)) !== JSON.stringify(before)) problems.push(`${op.operationId} + ${field}: wrote something`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('refuses them inside candidates and inside batch event bodies, and refuses server-only statuses', async () => {
      const before = await fingerprint(t);
      const candidate = { key: 'k', decision: 'accepted' };
      for (const extra of [{ createdAt: new Date().toISOString() }, { projectId: b.id }, { stepId: a.stepId }, { runId: a.runId }, { id: randomUUID() }]) {
        const res = await request(t.http)
          .post(`/v1/steps/${a.stepId}/candidates`)
          .set(as(a.admin))
          .send({ candidates: [{ ...candidate, ...extra }] });
        count('API3 server-owned fields in candidates and events');
        expectError(res, 400, 'VALIDATION_FAILED');
      }
      const events = [
        { type: 'run-create', body: { id: randomUUID(), pipeline: 'p', projectId: b.id } },
        { type: 'run-update', body: { id: a.runId, durationMs: 1 } },
        { type: 'step-create', body: { id: randomUUID(), runId: a.runId, name: 's', position: 0 } },
        { type: 'step-update', body: { id: a.stepId, candidatesStored: 5 } },
        { type: 'step-update', body: { id: a.stepId, eliminationRatio: 0.5 } },
        { type: 'candidates-create', body: { stepId: a.stepId, candidates: [{ ...candidate, createdAt: new Date().toISOString() }] } },
        { type: 'run-create', body: { id: randomUUID(), pipeline: 'p', status: 'timed_out' } },
      ].map((e) => ({ id: randomUUID(), ...e }));
      const res = await request(t.http).post('/v1/ingest').set(as(a.admin)).send({ events });
      count('API3 server-owned fields in candidates and events', events.length);
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual(events.map(() => 400));
      for (const [path, bodyValue] of [
        ['/v1/runs', { pipeline: 'p', status: 'timed_out' }],
        [`/v1/runs/${a.runId}`, { status: 'timed_out' }],
        [`/v1/steps/${a.stepId}`, { status: 'timed_out' }],
      ] as const) {
        const method = path === '/v1/runs' ? 'post' : 'patch';
        expectError(await request(t.http)[method](path).set(as(a.admin)).send(bodyValue), 400, 'VALIDATION_FAILED');
        count('API3 server-owned fields in candidates and events');
      }
      expect(await fingerprint(t)).toEqual(before);
    });

    it('answers only what the document declares: no key hashes, secrets or project ids in any read', async () => {
      const problems: string[] = [];
      for (const op of projectOps().filter((o) => o.method === 'get')) {
        // The key a lineage asks for, and what a read requires (the rejection question: a pipeline and a score name).
        const values: Record<string, string> = { key: b.candidateKey, pipeline: b.pipeline, name: 'correct' };
        const query = op.queryParams
          .filter((p) => p.name === 'key' || (p.required && values[p.name] !== undefined))
          .map((p) => `${p.name}=${encodeURIComponent(values[p.name])}`)
          .join('&');
        const res = await call(op, b, as(keyFor(op, b)), undefined, query || undefined);
        count('API3 reads checked against their documented schema');
        if (res.status !== 200) {
          problems.push(`${op.operationId}: ${res.status}`);
          continue;
        }
        const extra = undeclaredKeys(doc, op.responses['200'], res.body);
        if (extra.length) problems.push(`${op.operationId}: undeclared ${extra.slice(0, 5).join(', ')}`);
        const leaks = findLeaks(res.text, secrets).filter((l) => l !== 'SQL text');
        if (leaks.length) problems.push(`${op.operationId}: contains ${leaks.join(', ')}`);
        let text = res.text;
        if (op.operationId === 'getKeyInfo') {
          // Describing the caller's key names the caller's own project (as listProjects does for a
          // project key): that id may appear there, and no other.
          if (res.body.projectId !== b.id) problems.push(`getKeyInfo: projectId ${res.body.projectId} is not the caller's project`);
          text = JSON.stringify({ ...res.body, projectId: undefined });
        }
        if (/"(?:hash|project_id|projectId)"/.test(text)) problems.push(`${op.operationId}: exposes an internal field`);
      }
      expect(problems).toEqual([]);
    });
  });

  describe('API4 Unrestricted Resource Consumption', () => {
    it('caps page sizes on every paged route (documented maximum accepted, one more refused)', async () => {
      const problems: string[] = [];
      for (const op of projectOps().filter((o) => o.queryParams.some((p) => p.name === 'limit'))) {
        const max = op.queryParams.find((p) => p.name === 'limit')!.schema.maximum;
        if (max === undefined) {
          problems.push(`${op.operationId}: limit has no documented maximum`);
          continue;
        }
        const required = op.queryParams.some((p) => p.name === 'key' && p.required) ? `key=${b.candidateKey}&` : '';
        const ok = await call(op, b, as(b.admin), undefined, `${required}limit=${max}`);
        const over = await call(op, b, as(b.admin), undefined, `${required}limit=${max + 1}`);
        const huge = await call(op, b, as(b.admin), undefined, `${required}limit=1e9`);
        count('API4 page size caps', 3);
        if (ok.status !== 200) problems.push(`${op.operationId} limit=${max}: ${ok.status}`);
        if (over.status !== 400) problems.push(`${op.operationId} limit=${max + 1}: ${over.status}`);
        if (huge.status !== 400) problems.push(`${op.operationId} limit=1e9: ${huge.status}`);
      }
      expect(problems).toEqual([]);
    });

    it('caps nesting depth, string length and __proto__ keys in every body, naming the setting, at the defaults', async () => {
      const problems: string[] = [];
      let deep: unknown = 'leaf';
      for (let i = 0; i < t.config.maxJsonDepth + 1; i++) deep = { d: deep };
      const long = 'x'.repeat(t.config.maxStringLength + 1);
      for (const op of operations.filter((o) => o.body)) {
        const base = minimalBody(doc, op.body) as Record<string, unknown>;
        const cases: [string, string, number, string, string][] = [
          ['too deep', JSON.stringify({ ...base, extra: deep }), 400, 'JSON_TOO_DEEP', 'XRAY_MAX_JSON_DEPTH'],
          ['string too long', JSON.stringify({ ...base, extra: long }), 413, 'STRING_TOO_LONG', 'XRAY_MAX_STRING_LENGTH'],
          [
            '__proto__ key',
            `{"__proto__":{"admin":true}${Object.keys(base).length ? ',' : ''}${JSON.stringify(base).slice(1)}`,
            400,
            'FORBIDDEN_KEY',
            '__proto__',
          ],
        ];
        for (const [label, text, status, code, setting] of cases) {
          const res = await call(op, a, as(keyFor(op, a)), text);
          count('API4 depth, string and key caps on every body route');
          if (res.status !== status || res.body.error !== code || !String(res.body.message).includes(setting)) {
            problems.push(`${op.operationId} ${label}: ${res.status} ${res.text.slice(0, 150)}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('caps candidates per request and per event, and events per batch, at the defaults', async () => {
      const before = await fingerprint(t);
      const many = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, decision: 'accepted' }));
      const tooMany = many(t.config.maxCandidatesPerRequest + 1);
      const direct = await request(t.http).post(`/v1/steps/${a.stepId}/candidates`).set(as(a.admin)).send({ candidates: tooMany });
      expect(expectError(direct, 413, 'TOO_MANY_CANDIDATES').message).toContain('XRAY_MAX_CANDIDATES_PER_REQUEST');
      const event = await request(t.http)
        .post('/v1/ingest')
        .set(as(a.admin))
        .send({ events: [{ id: randomUUID(), type: 'candidates-create', body: { stepId: a.stepId, candidates: tooMany } }] });
      expect(event.body.results[0]).toMatchObject({ status: 413, error: { error: 'TOO_MANY_CANDIDATES' } });
      const events = Array.from({ length: t.config.maxEventsPerBatch + 1 }, () => ({
        id: randomUUID(),
        type: 'run-create',
        body: { id: randomUUID(), pipeline: 'p' },
      }));
      expect(expectError(await request(t.http).post('/v1/ingest').set(as(a.admin)).send({ events }), 413, 'TOO_MANY_EVENTS').message).toContain(
        'XRAY_MAX_EVENTS_PER_BATCH',
      );
      count('API4 batch caps', 3);
      // Arrays and filters inside bodies and queries are bounded too.
      const bounded: [string, () => request.Test][] = [
        [
          '51 tags',
          () =>
            request(t.http)
              .post('/v1/runs')
              .set(as(a.admin))
              .send({ pipeline: 'p', tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }),
        ],
        [
          '101 evaluations',
          () =>
            request(t.http)
              .post(`/v1/steps/${a.stepId}/candidates`)
              .set(as(a.admin))
              .send({ candidates: [{ key: 'k', decision: 'accepted', evaluations: Array.from({ length: 101 }, () => ({ check: 'c', passed: true })) }] }),
        ],
        [
          '6 scopes',
          () =>
            request(t.http)
              .post('/v1/api-keys')
              .set(as(a.admin))
              .send({ name: 'n', scopes: ['read', 'read', 'read', 'read', 'read', 'read'] }),
        ],
        [
          '11 metadata filters',
          () =>
            request(t.http)
              .get(`/v1/runs?${Array.from({ length: 11 }, (_, i) => `metadata.k${i}=v`).join('&')}`)
              .set(as(a.admin)),
        ],
        [
          '21 tag filters',
          () =>
            request(t.http)
              .get(`/v1/runs?${Array.from({ length: 21 }, (_, i) => `tag=t${i}`).join('&')}`)
              .set(as(a.admin)),
        ],
        [
          'a 201-character text query',
          () =>
            request(t.http)
              .get(`/v1/runs?q=${'a'.repeat(201)}`)
              .set(as(a.admin)),
        ],
        [
          'a 501-character cursor',
          () =>
            request(t.http)
              .get(`/v1/runs?cursor=${'A'.repeat(501)}`)
              .set(as(a.admin)),
        ],
      ];
      for (const [label, make] of bounded) {
        const res = await make();
        count('API4 bounded arrays and filters');
        expect({ label, status: res.status }).toEqual({ label, status: 400 });
      }
      expect(await fingerprint(t)).toEqual(before);
    });

    it('counts XRAY_MAX_BODY after decompression (a gzip bomb is refused, not inflated in memory)', async () => {
      const { gzipSync } = await import('node:zlib');
      const inflated = Buffer.alloc(t.config.maxBodyBytes + 1024, ' ');
      inflated.write('{"pipeline":"bomb","input":"');
      const bomb = gzipSync(inflated);
      expect(bomb.length).toBeLessThan(100_000);
      const res = await request(t.http)
        .post('/v1/runs')
        .set(as(a.admin))
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .serialize((b: unknown) => b as string) // send the bytes as they are, not as JSON
        .send(bomb);
      count('API4 compressed bodies over the limit');
      expect(expectError(res, 413, 'PAYLOAD_TOO_LARGE').message).toContain('XRAY_MAX_BODY');
    });

    it('does not read or parse the body of a request whose key is missing or invalid', async () => {
      // A malformed, too deep or oversized body from an unauthenticated caller answers 401: the
      // body was never parsed (so such callers cannot make the server parse megabytes of JSON).
      for (const op of operations.filter((o) => o.body)) {
        for (const [headers, text] of [
          [{}, '{"broken":'],
          [{ Authorization: `Bearer ${generateApiKey().key}` }, '['.repeat(5000)],
          [{ Authorization: 'Bearer nope' }, JSON.stringify({ s: 'x'.repeat(t.config.maxStringLength + 1) })],
        ] as const) {
          const res = await call(op, a, headers, text);
          count('API4 unauthenticated bodies left unparsed');
          expect({ op: op.operationId, status: res.status }).toEqual({ op: op.operationId, status: 401 });
        }
      }
    });

    it('looks a key up once per request with a body, and answers 503 (not a parse) when the lookup fails', async () => {
      const keys = t.app.get(ApiKeysService);
      const spy = jest.spyOn(keys, 'authenticate');
      try {
        const ok = await request(t.http).post('/v1/runs').set(as(a.admin)).send({ pipeline: 'once' });
        expect(ok.status).toBe(201);
        expect(spy).toHaveBeenCalledTimes(1);
        spy.mockClear();
        spy.mockRejectedValueOnce(new Error('Connection terminated unexpectedly'));
        const down = await request(t.http).post('/v1/runs').set(as(a.admin)).set('Content-Type', 'application/json').send('{"broken":');
        count('API4 key lookups before the body');
        expect(expectError(down, 503, 'DATABASE_UNAVAILABLE')).toBeDefined();
        expect(down.headers['retry-after']).toBeDefined();
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
    });

    const onPostgres = usingRealPostgres() ? it : it.skip;
    onPostgres('times out a read blocked behind a lock with 503 STATEMENT_TIMEOUT and Retry-After, then serves again', async () => {
      // (Writes slowed by a trigger are covered in teams.e2e.spec.ts.)
      const slow = await createTestApp({ XRAY_STATEMENT_TIMEOUT_MS: '300' });
      const pg = await import('pg');
      const locker = new pg.default.Client({ connectionString: slow.databaseUrl });
      try {
        const key = (await slow.newProject('slow')).key;
        await locker.connect();
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
        const started = Date.now();
        const res = await request(slow.http).get('/v1/runs').set(as(key));
        count('API4 statement timeout under a held lock');
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(expectError(res, 503, 'STATEMENT_TIMEOUT').message).toContain('XRAY_STATEMENT_TIMEOUT_MS');
        expect(res.headers['retry-after']).toBeDefined();
        expect(findLeaks(res.text, [key])).toEqual([]);
        await locker.query('ROLLBACK');
        expect((await request(slow.http).get('/v1/runs').set(as(key))).status).toBe(200);
      } finally {
        await locker.end().catch(() => undefined);
        await slow.close();
        // Booting another app replaced Nest's process-wide logger: give it back to the suite's app.
        t.app.useLogger(logger);
      }
    });
  });

  describe('API5 Broken Function Level Authorization', () => {
    it('allows exactly the documented scope on every route (admin allows all) and answers 403 naming it otherwise', async () => {
      const problems: string[] = [];
      for (const op of projectOps()) {
        const principals: ['ingest' | 'read' | 'delete' | 'feedback' | 'admin' | 'root', string][] = [
          ['ingest', b.keys.ingest],
          ['feedback', b.keys.feedback],
          ['read', b.keys.read],
          ['delete', b.keys.delete],
          ['admin', b.keys.admin],
          ['root', t.rootKey],
        ];
        for (const [who, key] of principals) {
          const allowed =
            op.access === 'any'
              ? true
              : op.access === 'root'
                ? who === 'root'
                : op.access === 'root-or-read'
                  ? who === 'read' || who === 'admin' || who === 'root'
                  : who === op.access || who === 'admin' || (op.access === 'feedback' && who === 'ingest');
          const res = await call(op, b, as(key));
          count('API5 every route with every scope');
          if (allowed && [401, 403].includes(res.status)) problems.push(`${op.operationId} as ${who}: ${res.status} (should be allowed)`);
          if (!allowed && res.status !== 403) problems.push(`${op.operationId} as ${who}: ${res.status} (should be 403)`);
          if (
            !allowed &&
            res.status === 403 &&
            op.access !== 'root' &&
            who !== 'root' &&
            !String(res.body.message).includes(`"${op.access === 'root-or-read' ? 'read' : op.access}"`)
          ) {
            problems.push(`${op.operationId} as ${who}: 403 without naming the scope: ${res.body.message}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('documents a scope (or root access) for every /v1 operation', () => {
      const undocumented = operations.filter((op) => op.path.startsWith('/v1/') && op.access === 'public').map((op) => op.operationId);
      expect(undocumented).toEqual([]);
      const scoped = operations.filter((op) => ['ingest', 'read', 'delete', 'admin', 'feedback'].includes(op.access));
      expect(scoped.length).toBeGreaterThan(10);
      // `any` is for describing the caller's own key, nothing else: no project data behind it.
      expect(operations.filter((op) => op.access === 'any').map((op) => op.operationId)).toEqual(['getKeyInfo']);
    });
  });

  describe('API8 Security Misconfiguration and API9 Improper Inventory Management', () => {
    it('serves no route the OpenAPI document does not list', () => {
      const router = (t.app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router;
      const documented = new Set(operations.map((op) => `${op.method} ${op.path.replace(/\{(\w+)\}/g, ':$1')}`));
      const served = router.stack
        .filter((layer) => layer.route)
        .flatMap((layer) =>
          Object.keys(layer.route!.methods)
            .filter((m) => m !== '_all')
            .map((m) => `${m} ${layer.route!.path}`),
        );
      // The OTLP/HTTP receiver speaks protobuf and OTLP/JSON: the OpenTelemetry protocol specification is its contract (README, OpenTelemetry).
      const protocolRoutes = new Set(['post /v1/traces']);
      const undocumented = served.filter((r) => !documented.has(r) && !protocolRoutes.has(r) && !/^get \/docs/.test(r));
      count('API9 routes compared with the document', served.length);
      expect(served.length).toBeGreaterThanOrEqual(operations.length);
      expect(undocumented).toEqual([]);
    });

    it('answers undocumented methods and unknown paths in the error shape with security headers', async () => {
      const problems: string[] = [];
      const paths = [...new Set(operations.map((op) => op.path))];
      for (const path of paths) {
        const documented = new Set(operations.filter((op) => op.path === path).map((op) => op.method));
        const concrete = fillPath(
          path,
          pathValues(
            operations.find((op) => op.path === path)!,
            b,
          ),
        );
        for (const method of (['get', 'post', 'patch', 'delete', 'put'] as const).filter((m) => !documented.has(m))) {
          const res = await send(t.http, { method, path: concrete, headers: as(b.admin) });
          count('API8 undocumented methods on every path');
          const shape = errorShapeProblem(res);
          if (![404, 405].includes(res.status) || shape) problems.push(`${method.toUpperCase()} ${path}: ${res.status} ${shape ?? ''}`);
          if (res.headers['x-content-type-options'] !== 'nosniff' || res.headers['x-powered-by'])
            problems.push(`${method.toUpperCase()} ${path}: security headers missing`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('answers an unexpected failure with a bare 500 and logs one line without a stack trace or a query', async () => {
      await t.sql('ALTER TABLE candidates RENAME TO candidates_moved');
      try {
        const res = await request(t.http).get(`/v1/steps/${a.stepId}/candidates`).set(as(a.admin));
        count('API8 provoked unexpected failures');
        expect({ status: res.status, body: res.body }).toEqual({
          status: 500,
          body: { statusCode: 500, error: 'INTERNAL_ERROR', message: 'Internal server error' },
        });
      } finally {
        await t.sql('ALTER TABLE candidates_moved RENAME TO candidates');
      }
      const line = logger.lines.find((l) => l.includes('Unexpected error'));
      expect(line).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({
        level: 'error',
        context: 'Errors',
        msg: expect.stringMatching(/GET \/v1\/steps\/:stepId\/candidates request [\w-]+: QueryFailedError \(42P01\)/),
      });
      expect(findLeaks(line!, secrets, { log: true })).toEqual([]);
    });
  });

  it('leaks no stack trace, query or secret in any log line written during the suite', () => {
    // The one line allowed a key: the documented first-start line, printed once when the database is empty.
    const lines = logger.lines.filter((line) => !line.includes('First start: created project'));
    const problems = lines.filter((line) => findLeaks(line, secrets, { log: true }).length > 0);
    count('log lines checked', lines.length);
    expect(problems).toEqual([]);
    // The only error lines: the failures provoked above (the 500's request line and one-line
    // report, the 503 of the failed key lookup's request line).
    const errors = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'error');
    const provoked = (l: Record<string, unknown>) =>
      (l.context === 'Errors' && /\(42P01\)/.test(String(l.msg))) ||
      (l.context === 'http' && ((l.status === 500 && l.route === '/v1/steps/:stepId/candidates') || (l.status === 503 && l.route === '/v1/runs')));
    expect(errors.filter((l) => !provoked(l))).toEqual([]);
    expect(errors.length).toBe(3);
    expect(lines.length).toBeGreaterThan(500);
  });
});
