import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, type TestApp, usingRealPostgres } from '../harness.js';
import {
  type Context,
  encodeQueryValue,
  FUZZ_LIMITS,
  hostileContentType,
  hostileCursor,
  hostileJson,
  hostilePathSegment,
  hostileString,
  malformedBodyText,
  mutate,
  mutation,
  rawToken,
  toJsonText,
  validValue,
} from './arbitraries.js';
import {
  type Call,
  CapturingLogger,
  errorShapeProblem,
  fillPath,
  findLeaks,
  fingerprint,
  loadOperations,
  type Operation,
  pathValues,
  send,
} from './support.js';

/**
 * Property-based fuzzing of every operation in the app's own OpenAPI document (so a new route
 * is fuzzed without touching this file): hostile bodies, one-field mutations of valid-shaped
 * bodies, raw JSON texts, path parameters and query strings. Every answer must be a 2xx, or a
 * 4xx in the error shape, within a time bound, with nothing leaked; a rejected write must leave
 * every table as it was; the process must stay healthy.
 *
 * FUZZ_RUNS scales the runs per operation and kind (default 12); FUZZ_SEED replays a run.
 */
const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 12));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** Generous: a request that takes this long is a hang, not a slow machine. */
const TIME_BOUND_MS = 15_000;
/** Each property test sends RUNS requests per operation. */
const TEST_TIMEOUT_MS = 120_000 + RUNS * 2_000;

describe(`fuzzing every operation of the OpenAPI document (${usingRealPostgres() ? 'PostgreSQL' : 'embedded'})`, () => {
  let t: TestApp;
  let logger: CapturingLogger;
  let operations: Operation[];
  let ctx: Context;
  let adminKey: string;
  let scratchKey: string;
  let throwawayKeyId: string;
  const stats = new Map<string, Map<string, number>>();
  let cachedFingerprint: Record<string, string> | undefined;

  beforeAll(async () => {
    logger = new CapturingLogger();
    t = await createTestApp(
      {
        XRAY_RATE_LIMIT: '0',
        XRAY_MAX_BODY: String(FUZZ_LIMITS.maxBodyBytes),
        XRAY_MAX_STRING_LENGTH: String(FUZZ_LIMITS.maxStringLength),
        XRAY_MAX_JSON_DEPTH: String(FUZZ_LIMITS.maxJsonDepth),
        XRAY_MAX_CANDIDATES_PER_REQUEST: String(FUZZ_LIMITS.maxCandidates),
        XRAY_MAX_EVENTS_PER_BATCH: String(FUZZ_LIMITS.maxEvents),
      },
      { logger },
    );
    adminKey = (await t.newProject('fuzz')).key;
    // Bulk deletions are fuzzed in a project of their own: a valid filter deletes, and the fuzzing project's data must stay.
    scratchKey = (await t.newProject('fuzz-scratch')).key;
    const as = { Authorization: `Bearer ${adminKey}` };
    const runId = (
      await request(t.http)
        .post('/v1/runs')
        .set(as)
        .send({ pipeline: 'fuzz-pipeline', metadata: { env: 'fuzz' } })
    ).body.id;
    const stepId = (await request(t.http).post(`/v1/runs/${runId}/steps`).set(as).send({ name: 'filter', type: 'filter' })).body.id;
    await request(t.http)
      .post(`/v1/steps/${stepId}/candidates`)
      .set(as)
      .send({
        candidates: [
          { key: 'a', decision: 'accepted' },
          { key: 'b', decision: 'rejected', reason: 'price' },
        ],
      })
      .expect(201);
    throwawayKeyId = (
      await request(t.http)
        .post('/v1/api-keys')
        .set(as)
        .send({ name: 'throwaway', scopes: ['read'] })
    ).body.id;
    const loaded = await loadOperations(t.http);
    operations = loaded.operations;
    const bodies = new Map<string, fc.Arbitrary<Record<string, unknown>>>();
    ctx = {
      doc: loaded.doc,
      ids: { runId, stepId },
      bodyFor: (operationId) => {
        const op = operations.find((o) => o.operationId === operationId);
        if (!op?.body) return undefined;
        if (!bodies.has(operationId)) bodies.set(operationId, validValue(ctx, op.body) as fc.Arbitrary<Record<string, unknown>>);
        return bodies.get(operationId);
      },
    };
  }, 180_000);

  afterAll(async () => {
    const lines = [...stats.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, byStatus]) => {
        const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
        const dist = [...byStatus.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}×${n}`);
        return `  ${op.padEnd(22)} ${String(total).padStart(5)}  ${dist.join(' ')}`;
      });
    const total = [...stats.values()].reduce((sum, m) => sum + [...m.values()].reduce((a, b) => a + b, 0), 0);
    console.log(
      `fuzz (${usingRealPostgres() ? 'PostgreSQL' : 'embedded'}, FUZZ_RUNS=${RUNS}): ${total} requests over ${stats.size} operations\n` +
        `  operation              sent  statuses\n${lines.join('\n')}`,
    );
    await t?.close();
  });

  const auth = (op: Operation) => ({
    Authorization: `Bearer ${op.access === 'root' || op.access === 'root-or-read' ? t.rootKey : op.operationId === 'deleteRuns' ? scratchKey : adminKey}`,
  });

  /** Path values that name existing resources of the fuzzing project. */
  const validPath = (op: Operation) =>
    pathValues(op, {
      runId: ctx.ids.runId,
      otherRunId: ctx.ids.runId,
      stepId: ctx.ids.stepId,
      apiKeyId: throwawayKeyId,
      pipeline: 'fuzz-pipeline',
      candidateKey: 'a',
    });

  const isWrite = (op: Operation) => op.method !== 'get';

  const deletionSettled = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const [row] = await t.sql<{ status: string }>('SELECT status FROM deletion_log WHERE id = $1', [id]);
      if (row?.status !== 'running') return;
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  /** Sends one call and checks every invariant; returns a problem description or undefined. */
  const check = async (op: Operation, call: Call, what: string): Promise<string | undefined> => {
    const write = isWrite(op);
    if (write && !cachedFingerprint) cachedFingerprint = await fingerprint(t);
    const started = Date.now();
    let res: request.Response;
    try {
      res = await send(t.http, { ...call, headers: { ...auth(op), ...call.headers } }).timeout(TIME_BOUND_MS);
    } catch (err) {
      return `${what}: no answer within ${TIME_BOUND_MS} ms (${(err as Error).message})`;
    }
    const elapsed = Date.now() - started;
    const byStatus = stats.get(op.operationId) ?? new Map<string, number>();
    byStatus.set(String(res.status), (byStatus.get(String(res.status)) ?? 0) + 1);
    stats.set(op.operationId, byStatus);
    const describe = () => `${what} -> ${res.status} ${String(res.text).slice(0, 300)}`;
    if (elapsed > TIME_BOUND_MS) return `${describe()}: took ${elapsed} ms`;
    if (res.status >= 500 || res.status < 200 || (res.status >= 300 && res.status < 400)) return `${describe()}: status outside 2xx/4xx`;
    let rejected = res.status >= 400;
    if (rejected) {
      const shape = errorShapeProblem(res);
      if (shape) return `${describe()}: ${shape}`;
      const leaks = findLeaks(res.text, [t.rootKey, adminKey, scratchKey]);
      if (leaks.length) return `${describe()}: error body leaks ${leaks.join(', ')}`;
    } else if (op.operationId === 'ingestEvents') {
      const results = (res.body as { results?: { status: number }[] }).results ?? [];
      rejected = results.length > 0 && results.every((r) => r.status >= 400);
      const leaks = findLeaks(JSON.stringify(results.filter((r) => r.status >= 400)), [t.rootKey, adminKey]);
      if (leaks.length) return `${describe()}: event error leaks ${leaks.join(', ')}`;
    }
    if (write) {
      if (rejected) {
        const after = await fingerprint(t);
        const changed = Object.keys(after).filter((k) => after[k] !== cachedFingerprint![k]);
        cachedFingerprint = after;
        if (changed.length) return `${describe()}: rejected, yet ${changed.join(', ')} changed`;
      } else {
        // An accepted bulk deletion goes on in the background: wait for its end, so its writes are not taken for a later request's.
        if (op.operationId === 'deleteRuns') await deletionSettled((res.body as { id: string }).id);
        cachedFingerprint = undefined;
      }
    }
    return undefined;
  };

  /** Runs one property per operation, collecting failures instead of stopping at the first. */
  const fuzz = async <T>(label: string, ops: (o: Operation) => boolean, arb: (op: Operation) => fc.Arbitrary<T>, toCall: (op: Operation, v: T) => Call) => {
    const failures: string[] = [];
    const selected = operations.filter(ops);
    expect(selected.length).toBeGreaterThan(0);
    for (const op of selected) {
      let problem: string | undefined;
      const details = await fc.check(
        fc.asyncProperty(arb(op), async (value) => {
          const call = toCall(op, value);
          const what = `${call.method.toUpperCase()} ${call.path.slice(0, 150)}${call.query ? `?${call.query.slice(0, 300)}` : ''}${
            call.bodyText !== undefined ? ` body ${call.bodyText.slice(0, 300)}` : ''
          }`;
          problem = await check(op, call, what);
          return problem === undefined;
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      if (details.failed) failures.push(`[${op.operationId} / ${label}, seed ${details.seed}] ${(problem ?? String(details.errorInstance)).slice(0, 1500)}`);
    }
    return failures;
  };

  it('covers every operation of the document', () => {
    const ids = operations.map((o) => o.operationId);
    expect(ids).toEqual(expect.arrayContaining(['createRun', 'updateRun', 'createStep', 'createCandidates', 'ingestEvents', 'listRuns', 'getHealth']));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it(
    'answers hostile whole bodies with a 2xx or a clean 4xx, writing nothing when refusing',
    async () => {
      const failures = await fuzz(
        'body',
        (op) => Boolean(op.body),
        () => hostileJson,
        (op, body) => ({ method: op.method, path: fillPath(op.path, validPath(op)), bodyText: toJsonText(body) }),
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers valid-shaped bodies derived from the document (mostly 2xx: the success paths are fuzzed too)',
    async () => {
      const failures = await fuzz(
        'valid',
        (op) => Boolean(op.body),
        (op) => validValue(ctx, op.body),
        (op, body) => ({ method: op.method, path: fillPath(op.path, validPath(op)), bodyText: toJsonText(body) }),
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers valid-shaped bodies with one field mutated (hostile value, removed, inflated, server-owned or odd key added)',
    async () => {
      const failures = await fuzz(
        'mutated',
        (op) => Boolean(op.body),
        (op) => fc.tuple(validValue(ctx, op.body), fc.nat(), mutation),
        (op, [body, index, m]) => ({ method: op.method, path: fillPath(op.path, validPath(op)), bodyText: toJsonText(mutate(body, index, m).body) }),
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers raw texts (not JSON, odd JSON, tokens JSON.stringify never writes) and odd content types',
    async () => {
      const failures = await fuzz(
        'raw',
        (op) => Boolean(op.body),
        (op) =>
          fc.tuple(
            fc.oneof(
              malformedBodyText,
              fc.tuple(validValue(ctx, op.body), fc.nat(), rawToken).map(([b, i, token]) => toJsonText(mutate(b, i, { kind: 'raw', token }).body)),
            ),
            hostileContentType,
          ),
        (op, [text, contentType]) => {
          const call: Call = { method: op.method, path: fillPath(op.path, validPath(op)), bodyText: text };
          if (contentType) call.headers = { 'Content-Type': contentType };
          return call;
        },
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers hostile path parameters (not ids, encoded slashes and dots, bad percent-encoding, huge)',
    async () => {
      const failures = await fuzz(
        'path',
        (op) => op.pathParams.length > 0,
        (op) => fc.tuple(fc.constantFrom(...op.pathParams.map((p) => p.name)), hostilePathSegment, op.body ? validValue(ctx, op.body) : fc.constant(undefined)),
        (op, [name, segment, body]) => {
          const path = op.path.replace(/\{(\w+)\}/g, (_, p: string) => (p === name ? segment : encodeURIComponent(validPath(op)[p])));
          return { method: op.method, path, bodyText: body === undefined ? undefined : toJsonText(body) };
        },
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers hostile query strings (wrong types, repeated keys, out-of-range numbers and dates, unknown and prototype keys)',
    async () => {
      const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
      /** `name=value` pairs for one parameter: valid, hostile, repeated or empty; objects as `name.key=value`. */
      const queryPairs = (op: Operation, name: string): fc.Arbitrary<[string, string][]> => {
        const param = op.queryParams.find((p) => p.name === name);
        const valid: fc.Arbitrary<[string, string][]> =
          param?.schema.type === 'object'
            ? fc
                .dictionary(
                  fc.oneof(
                    fc.string({ maxLength: 8 }),
                    hostileString.map((k) => k.slice(0, 200)),
                  ),
                  fc.oneof(fc.string({ maxLength: 8 }), hostileString),
                  { maxKeys: 12 },
                )
                .map((d) => Object.entries(d).map(([k, v]): [string, string] => [`${name}.${k}`, v.slice(0, 3000)]))
            : param
              ? validValue(ctx, param.schema, name).map((v) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [name, text(x)]))
              : fc.constant([[name, 'x']]);
        return fc.oneof(
          valid,
          name === 'cursor' ? hostileCursor.map((v): [string, string][] => [[name, v]]) : valid,
          hostileString.map((v): [string, string][] => [[name, v.slice(0, 3000)]]),
          fc
            .array(
              fc.oneof(
                hostileString.map((v) => v.slice(0, 300)),
                fc.constant(''),
              ),
              { minLength: 2, maxLength: 30 },
            )
            .map((vs) => vs.map((v): [string, string] => [name, v])),
          fc.constant<[string, string][]>([[name, '']]),
        );
      };
      const names = (op: Operation) =>
        fc.uniqueArray(
          fc.oneof(
            { weight: 3, arbitrary: op.queryParams.length ? fc.constantFrom(...op.queryParams.map((p) => p.name)) : fc.constant('limit') },
            {
              weight: 1,
              arbitrary: fc.constantFrom(
                'constructor',
                '__proto__',
                'toString',
                'metadata.x',
                'metadata.__proto__',
                'metadata.constructor',
                'metadata',
                'tag[]',
                'limit[0]',
                'a[b]',
                'projectId',
                '',
              ),
            },
            { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
          ),
          { maxLength: 5 },
        );
      const failures = await fuzz(
        'query',
        () => true,
        (op) =>
          fc.oneof(
            {
              weight: 6,
              arbitrary: names(op).chain((ns) =>
                fc.tuple(...ns.map((n) => queryPairs(op, n).map((pairs) => pairs.map(([k, v]) => `${encodeQueryValue(k)}=${encodeQueryValue(v)}`).join('&')))),
              ),
            },
            {
              weight: 1,
              arbitrary: fc.constantFrom(
                '%',
                '%zz',
                '&&&',
                '=',
                '==',
                'a==b',
                ';',
                '+',
                '%ED%A0%80=1',
                'limit=%ED%A0%80',
                `cursor=${'A'.repeat(600)}`,
                'limit=1e400',
                'from=%00',
              ),
            },
          ),
        (op, parts) => ({ method: op.method, path: fillPath(op.path, validPath(op)), query: Array.isArray(parts) ? parts.filter(Boolean).join('&') : parts }),
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers cursors that decode but hold hostile values (dates beyond PostgreSQL, ids that are not UUIDs, numbers beyond bigint)',
    async () => {
      const failures = await fuzz(
        'cursor',
        (op) => op.queryParams.some((p) => p.name === 'cursor'),
        () => hostileCursor,
        (op, cursor) => {
          const required = op.queryParams.filter((p) => p.required).map((p) => `${p.name}=x`);
          return { method: op.method, path: fillPath(op.path, validPath(op)), query: [...required, `cursor=${cursor}`].join('&') };
        },
      );
      expect(failures).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it('stays healthy and logged nothing unexpected, leaking nothing', async () => {
    const health = await request(t.http).get('/health');
    expect(health.status).toBe(200);
    expect((await request(t.http).get('/health/ready')).status).toBe(200);
    // The data written before the fuzzing is intact and readable.
    const run = await request(t.http)
      .get(`/v1/runs/${ctx.ids.runId}`)
      .set({ Authorization: `Bearer ${adminKey}` });
    expect(run.status).toBe(200);
    // The one line allowed a key: the documented first-start line, printed once when the database is empty.
    const lines = logger.lines.filter((line) => !line.includes('First start: created project'));
    const problems = lines.filter((line) => JSON.parse(line).level === 'error' || findLeaks(line, [t.rootKey, adminKey, scratchKey]).length > 0);
    expect(problems).toEqual([]);
    expect(logger.lines.length).toBeGreaterThan(100);
  });
});
