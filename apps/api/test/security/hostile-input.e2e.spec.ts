import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from '../harness.js';
import { fingerprint } from './support.js';

/**
 * Regression tests for what the fuzz and OWASP suites found: each case is one defect, fixed.
 * Bodies are sent as JSON text so they can hold what JSON.stringify never writes (1e400,
 * lone surrogates as escapes).
 */
describe('hostile input: regressions', () => {
  let t: TestApp;
  let key: string;
  let runId: string;
  let stepId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const raw = (method: 'post' | 'patch', path: string, text: string) =>
    request(t.http)[method](path).set(auth()).set('Content-Type', 'application/json').send(text);
  const get = (path: string) => request(t.http).get(path).set(auth());

  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.newProject('hostile')).key;
    runId = (await request(t.http).post('/v1/runs').set(auth()).send({ pipeline: 'hostile' })).body.id;
    stepId = (await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send({ name: 'filter' })).body.id;
  }, 180_000);
  afterAll(async () => t?.close());

  /** Asserts the request is refused and leaves every table exactly as it was. */
  const refusedWithoutWrites = async (make: () => Promise<request.Response>, status: number, code: string) => {
    const before = await fingerprint(t);
    const res = await make();
    const body = expectError(res, status, code);
    expect(await fingerprint(t)).toEqual(before);
    return body;
  };

  describe('free-form JSON keeps every key (class-transformer dropped `constructor`, `toString`…; Nest deleted `prototype`)', () => {
    const tricky = { constructor: { prototype: { x: 1 } }, toString: 'str', prototype: [1], hasOwnProperty: null, valueOf: { constructor: 'x' } };

    it('on runs: input, output and metadata, created and merged', async () => {
      const created = await request(t.http)
        .post('/v1/runs')
        .set(auth())
        .send({ pipeline: 'keys', input: tricky, output: [tricky], metadata: { ...tricky, plain: 1 } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ input: tricky, output: [tricky], metadata: { ...tricky, plain: 1 } });
      const patched = await request(t.http)
        .patch(`/v1/runs/${created.body.id}`)
        .set(auth())
        .send({ metadata: { isPrototypeOf: 2 }, output: tricky });
      expect(patched.status).toBe(200);
      expect(patched.body.metadata).toEqual({ ...tricky, plain: 1, isPrototypeOf: 2 });
      expect((await get(`/v1/runs/${created.body.id}`)).body).toMatchObject({ input: tricky, output: tricky });
    });

    it('on steps and candidates', async () => {
      const step = await request(t.http).post(`/v1/runs/${runId}/steps`).set(auth()).send({ name: 'keys', input: tricky, metadata: tricky });
      expect(step.status).toBe(201);
      expect(step.body).toMatchObject({ input: tricky, metadata: tricky });
      const updated = await request(t.http)
        .patch(`/v1/steps/${step.body.id}`)
        .set(auth())
        .send({ output: tricky, metadata: { toString: 'y' } });
      expect(updated.body).toMatchObject({ output: tricky, metadata: { ...tricky, toString: 'y' } });
      await request(t.http)
        .post(`/v1/steps/${step.body.id}/candidates`)
        .set(auth())
        .send({ candidates: [{ key: 'c', decision: 'accepted', data: tricky }] })
        .expect(201);
      expect((await get(`/v1/steps/${step.body.id}/candidates`)).body.items[0].data).toEqual(tricky);
    });

    it('through /v1/ingest (an own `constructor` key made class-transformer throw: a 500)', async () => {
      const id = randomUUID();
      const res = await request(t.http)
        .post('/v1/ingest')
        .set(auth())
        .send({
          events: [{ id: randomUUID(), type: 'run-create', body: { id, pipeline: 'ingest-keys', metadata: tricky, input: { a: { constructor: 'x' } } } }],
        });
      expect(res.status).toBe(207);
      expect(res.body.results).toEqual([{ id: expect.any(String), status: 201 }]);
      expect((await get(`/v1/runs/${id}`)).body).toMatchObject({ metadata: tricky, input: { a: { constructor: 'x' } } });
    });

    it('filters runs by metadata.constructor instead of ignoring the filter', async () => {
      const mine = (
        await request(t.http)
          .post('/v1/runs')
          .set(auth())
          .send({ pipeline: 'meta-filter', metadata: { constructor: 'Widget' } })
      ).body.id;
      await request(t.http)
        .post('/v1/runs')
        .set(auth())
        .send({ pipeline: 'meta-filter', metadata: { other: 1 } });
      const res = await get('/v1/runs?pipeline=meta-filter&metadata.constructor=Widget');
      expect(res.status).toBe(200);
      expect(res.body.items.map((r: { id: string }) => r.id)).toEqual([mine]);
      expect((await get('/v1/runs?pipeline=meta-filter&metadata.__proto__=x')).body.items).toEqual([]);
    });
  });

  describe('reserved keys where a DTO field belongs are unknown properties (they were silently dropped)', () => {
    it.each([
      ['top level', 'post', '/v1/runs', '{"pipeline":"p","constructor":"x"}', 'constructor'],
      ['top level prototype', 'post', '/v1/runs', '{"pipeline":"p","prototype":{"a":1}}', 'prototype'],
      ['nested DTO', 'patch', '/v1/runs/{run}', '{"error":{"message":"m","toString":"x"}}', 'error.toString'],
      ['nested DTO constructor', 'patch', '/v1/steps/{step}', '{"error":{"message":"m","constructor":{"a":1}}}', 'error.constructor'],
      ['object in a string field', 'post', '/v1/runs', '{"pipeline":{"constructor":"x"}}', 'pipeline.constructor'],
    ])('%s', async (_label, method, path, text, field) => {
      const body = await refusedWithoutWrites(
        () => raw(method as 'post' | 'patch', path.replace('{run}', runId).replace('{step}', stepId), text),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details).toEqual(expect.arrayContaining([{ field, message: expect.stringContaining('should not exist') }]));
    });

    it('in query strings', async () => {
      for (const query of ['constructor=x', '__proto__=x', 'toString=1', 'hasOwnProperty=a&pipeline=p']) {
        expectError(await get(`/v1/runs?${query}`), 400, 'VALIDATION_FAILED');
        expectError(await get(`/v1/steps?${query}`), 400, 'VALIDATION_FAILED');
      }
    });

    it('in an ingest event body: that event fails alone', async () => {
      const good = randomUUID();
      const res = await request(t.http)
        .post('/v1/ingest')
        .set(auth())
        .send({
          events: <Record<string, unknown>[]>[
            { id: randomUUID(), type: 'run-create', body: { id: randomUUID(), pipeline: 'p', constructor: 'x' } },
            { id: randomUUID(), type: 'run-update', body: { id: runId, error: { message: 'm', valueOf: 1 } } },
            { id: randomUUID(), type: 'run-create', body: { id: good, pipeline: 'p' } },
          ],
        });
      expect(res.status).toBe(207);
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([400, 400, 201]);
      expect(res.body.results[0].error.details).toEqual([{ field: 'body.constructor', message: 'property constructor should not exist' }]);
      expect(res.body.results[1].error.details).toEqual([{ field: 'body.error.valueOf', message: 'property valueOf should not exist' }]);
    });
  });

  describe('lone surrogates are refused with 400 naming the field (text columns stored U+FFFD; JSON ones gave a vague error)', () => {
    it.each([
      ['a text field', 'post', '/v1/runs', '{"pipeline":"a\\ud800b"}', 'pipeline'],
      ['a tag', 'post', '/v1/runs', '{"pipeline":"p","tags":["\\udfff"]}', 'tags.0'],
      ['free-form JSON', 'post', '/v1/runs', '{"pipeline":"p","input":{"a":["x\\ud83d"]}}', 'input.a.0'],
      ['a key of free-form JSON', 'post', '/v1/runs', '{"pipeline":"p","metadata":{"\\udc00":1}}', 'metadata.\\udc00'],
      ['a step field', 'patch', '/v1/steps/{step}', '{"reasoning":"\\ud800"}', 'reasoning'],
      ['a candidate key', 'post', '/v1/steps/{step}/candidates', '{"candidates":[{"key":"k\\ud800","decision":"accepted"}]}', 'candidates.0.key'],
      [
        'candidate data',
        'post',
        '/v1/steps/{step}/candidates',
        '{"candidates":[{"key":"k","decision":"accepted","data":{"t":"\\ud800"}}]}',
        'candidates.0.data.t',
      ],
      ['an API key name', 'post', '/v1/api-keys', '{"name":"\\ud800","scopes":["read"]}', 'name'],
    ])('in %s', async (_label, method, path, text, field) => {
      const body = await refusedWithoutWrites(() => raw(method as 'post' | 'patch', path.replace('{step}', stepId), text), 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual(expect.arrayContaining([{ field, message: expect.stringContaining('Unicode') }]));
    });

    it('while a valid surrogate pair (an emoji) is stored as sent', async () => {
      const res = await raw('post', '/v1/runs', '{"pipeline":"emoji-\\ud83d\\ude00","input":"\\ud83d\\ude00"}');
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ pipeline: 'emoji-😀', input: '😀' });
    });

    it('in ingest: per event, and in event ids (they were stored as U+FFFD, so two ids could collide)', async () => {
      const ok = randomUUID();
      const res = await raw(
        'post',
        '/v1/ingest',
        `{"events":[{"id":"${randomUUID()}","type":"run-create","body":{"id":"${randomUUID()}","pipeline":"p\\ud800"}},` +
          `{"id":"${randomUUID()}","type":"run-create","body":{"id":"${ok}","pipeline":"ok"}}]}`,
      );
      expect(res.status).toBe(207);
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([400, 201]);
      await refusedWithoutWrites(
        () => raw('post', '/v1/ingest', `{"events":[{"id":"ev-\\ud800","type":"run-create","body":{"id":"${randomUUID()}","pipeline":"p"}}]}`),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('numbers beyond the double range (1e400 parsed to Infinity and was stored as null)', () => {
    it.each([
      ['free-form JSON', 'post', '/v1/runs', '{"pipeline":"p","input":{"n":1e400}}', 'input.n'],
      ['metadata', 'patch', '/v1/runs/{run}', '{"metadata":{"n":-1e400}}', 'metadata.n'],
      ['a count', 'patch', '/v1/steps/{step}', '{"candidatesIn":1e400}', 'candidatesIn'],
      ['candidate data', 'post', '/v1/steps/{step}/candidates', '{"candidates":[{"key":"k","decision":"accepted","data":[1e999]}]}', 'candidates.0.data.0'],
    ])('in %s', async (_label, method, path, text, field) => {
      const body = await refusedWithoutWrites(
        () => raw(method as 'post' | 'patch', path.replace('{run}', runId).replace('{step}', stepId), text),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details).toEqual(expect.arrayContaining([{ field, message: expect.stringContaining('finite') }]));
    });

    it('while large finite numbers are stored exactly', async () => {
      const res = await raw('post', '/v1/runs', '{"pipeline":"p","input":{"big":1.7976931348623157e308,"small":5e-324}}');
      expect(res.status).toBe(201);
      expect(res.body.input).toEqual({ big: 1.7976931348623157e308, small: 5e-324 });
    });
  });

  describe('null where a value is needed (status: null reached a NOT NULL column: a 500)', () => {
    it.each([
      ['run status', 'patch', '/v1/runs/{run}', { status: null }, 'status'],
      ['run metadata', 'patch', '/v1/runs/{run}', { metadata: null }, 'metadata'],
      ['run tags', 'patch', '/v1/runs/{run}', { tags: null }, 'tags'],
      ['run end', 'patch', '/v1/runs/{run}', { endedAt: null }, 'endedAt'],
      ['run start on a replay', 'post', '/v1/runs', { id: '{run}', pipeline: 'hostile', startedAt: null }, 'startedAt'],
      ['step status', 'patch', '/v1/steps/{step}', { status: null }, 'status'],
      ['step type', 'post', '/v1/runs/{run}/steps', { name: 's', type: null }, 'type'],
      ['step metadata', 'post', '/v1/runs/{run}/steps', { name: 's', metadata: null }, 'metadata'],
    ])('%s', async (_label, method, path, body, field) => {
      const text = JSON.stringify(body).replace('{run}', runId);
      const res = await refusedWithoutWrites(
        () => raw(method as 'post' | 'patch', path.replace('{run}', runId).replace('{step}', stepId), text),
        400,
        'VALIDATION_FAILED',
      );
      expect((res.details as { field: string }[]).map((d) => d.field)).toContain(field);
    });

    it('fails only that event in a batch, while null stays a value in free-form JSON', async () => {
      const res = await request(t.http)
        .post('/v1/ingest')
        .set(auth())
        .send({
          events: [
            { id: randomUUID(), type: 'step-update', body: { id: stepId, status: null } },
            { id: randomUUID(), type: 'run-update', body: { id: runId, output: null, metadata: { gone: null } } },
          ],
        });
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([400, 200]);
      expect((await get(`/v1/runs/${runId}`)).body).toMatchObject({ output: null, metadata: { gone: null } });
    });

    it('answers a NOT NULL violation from the database as a 400, should a null get past validation', async () => {
      const { describeError } = await import('../../src/common/describe-error.js');
      const { QueryFailedError } = await import('typeorm');
      const error = Object.assign(new QueryFailedError('UPDATE', [], new Error('null value in column')), { code: '23502' });
      expect(describeError(error)?.body).toEqual({ statusCode: 400, error: 'INVALID_VALUE', message: 'A field that needs a value was sent as null' });
    });
  });

  it('applies the date-time rule of every other field to ingest timestamps (2024-02-30 became March 1, year 0 was accepted)', async () => {
    for (const timestamp of ['2024-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:01Z']) {
      const res = await request(t.http)
        .post('/v1/ingest')
        .set(auth())
        .send({ events: [{ id: randomUUID(), type: 'run-create', timestamp, body: { id: randomUUID(), pipeline: 'ts' } }] });
      expect({ timestamp, status: res.body.results?.[0]?.status }).toEqual({ timestamp, status: 400 });
    }
    const fine = await request(t.http)
      .post('/v1/ingest')
      .set(auth())
      .send({ events: [{ id: randomUUID(), type: 'run-create', timestamp: '2024-02-29T23:59:59.123+01:00', body: { id: randomUUID(), pipeline: 'ts' } }] });
    expect(fine.body.results[0].status).toBe(201);
  });

  it('answers what Node’s HTTP parser refuses in the error shape (it was a bare 431 or 400 without a body)', async () => {
    const long = await get(`/v1/runs/${'x'.repeat(20_000)}`);
    expectError(long, 431, 'HEADERS_TOO_LARGE');
    const server = t.http as import('node:http').Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.end('GET /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'));
        let text = '';
        socket.on('data', (d) => (text += d.toString('utf8')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      const [head, body] = answer.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(head).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(body)).toEqual({ statusCode: 400, error: 'BAD_REQUEST', message: expect.any(String) });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses non-object bodies of DTO routes with one clear detail', async () => {
    for (const text of ['[1,2]', '"x"', '5', 'true']) {
      const body = await refusedWithoutWrites(() => raw('post', '/v1/runs', text), 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual([{ field: 'body', message: 'body must be an object' }]);
    }
  });
});
