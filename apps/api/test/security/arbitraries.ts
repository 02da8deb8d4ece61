import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { type OpenApiDoc, resolveSchema, type Schema } from './support.js';

/**
 * fast-check arbitraries for hostile input: strings, numbers, keys and JSON values an
 * attacker (or a buggy client) might send, and valid-shaped bodies derived from the OpenAPI
 * document so a mutation can hit one field at a time.
 */

/** Limits the fuzzed app runs with (small, so caps are cheap to cross). */
export const FUZZ_LIMITS = {
  maxBodyBytes: 256 * 1024,
  maxStringLength: 20_000,
  maxJsonDepth: 32,
  maxCandidates: 100,
  maxEvents: 50,
};

const SQL = [
  "' OR '1'='1",
  "'; DROP TABLE runs; --",
  '1; SELECT pg_sleep(10)',
  "x' UNION SELECT hash FROM api_keys --",
  '$1',
  '$$',
  '%',
  '_',
  '\\',
  "E'\\x00'",
  '::jsonb',
  "') OR true --",
];
const JSON_PATH = ['$.a[*] ? (@ > 1)', '$..*', "$.'a'", '@@', '->', '->>', '#>', '{a,b}', 'lax $.x', 'a:* & !b | (c', '!!!', '<->', '*'];
const UNICODE = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud83d',
  '\udc00y',
  '\ud83d\ude00',
  '\ufeff',
  '\u202e\u0644\u0627',
  'e\u0301',
  '\u200b',
  '\u2028\u2029',
  '\uffff',
  '\r\nX-Injected: 1',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  'a/b',
  '%2F',
  '%00',
  '{{7*7}}',
  '${process.env}',
];
const NUMBERISH = ['NaN', 'Infinity', '-Infinity', '-0', '1e400', '0x10', '1_000', '١٢٣', ' 5 ', '5abc', 'true', 'null', '[]', '{}'];
const DATES = [
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '10000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '-000001-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-01-01T25:00:00Z',
  '2024-01-01T00:00:00+99:99',
  '2024-01-01',
  '2024-01-01 00:00:00',
  '1970-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999999999Z',
  'yesterday',
];
const IDS = ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{8c2f3b1e-0000-4000-8000-000000000000}', 'not-a-uuid'];
/** Keys that must never change behaviour: prototype names, operator-looking keys, odd text. */
export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '$where',
  '$gt',
  'a.b',
  "a'b",
  '',
  '\u0000',
  '\ud800',
  'projectId',
  'project_id',
];

const bigStrings = (limits = FUZZ_LIMITS) => [
  'x'.repeat(201),
  'y'.repeat(501),
  'z'.repeat(2001),
  'w'.repeat(limits.maxStringLength + 1),
  'é'.repeat(limits.maxStringLength),
  'b'.repeat(limits.maxBodyBytes + 10),
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SQL, ...JSON_PATH, ...UNICODE, ...NUMBERISH, ...DATES, ...IDS, ...HOSTILE_KEYS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    // Strings with lone surrogates and NULs mixed into ordinary text.
    arbitrary: fc
      .array(
        fc.oneof(
          fc.string({ maxLength: 5 }),
          fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
          fc.constant('\u0000'),
        ),
        {
          maxLength: 6,
        },
      )
      .map((parts) => parts.join('')),
  },
  { weight: 1, arbitrary: fc.constantFrom(...bigStrings()) },
  { weight: 1, arbitrary: fc.uuid() },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1.5,
    2 ** 31,
    2 ** 31 - 1,
    -(2 ** 31) - 1,
    2 ** 53 + 1,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    -Number.MAX_VALUE,
    1e-300,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
);

const nest = (depth: number, leaf: unknown): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { n: v };
  return v;
};

/** Any JSON value, with hostile leaves and keys, sometimes deep or huge. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 3, arbitrary: fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null)) },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }) },
    { weight: 1, arbitrary: fc.integer({ min: FUZZ_LIMITS.maxJsonDepth - 2, max: FUZZ_LIMITS.maxJsonDepth + 30 }).map((d) => nest(d, 'deep')) },
    { weight: 1, arbitrary: fc.constantFrom(new Array(20_000).fill(0), new Array(3000).fill({ key: 'k', decision: 'accepted' })) },
  ),
})).value;

/**
 * Raw JSON tokens JSON.stringify never writes. A generated value may contain
 * `RAW_TOKEN(i)` strings; {@link toJsonText} replaces them with the token itself.
 */
const RAW_TOKENS = [
  '1e400',
  '-1e400',
  '-0',
  '1E+999',
  '123456789012345678901234567890',
  '0.000000000000000000000000000001',
  '"\\ud800"',
  '"a\\udfff\\ud800b"',
  '"\\u0000"',
  '"\\ud83d\\ude00"',
];
const rawMarker = (i: number) => `\u0001RAW${i}\u0001`;
export const rawToken: fc.Arbitrary<string> = fc.nat({ max: RAW_TOKENS.length - 1 }).map(rawMarker);

export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.replace(/"\\u0001RAW(\d+)\\u0001"/g, (_, i: string) => RAW_TOKENS[Number(i)]);
}

/** Whole-body texts that are not JSON, or JSON a lenient parser might take differently. */
export const malformedBodyText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '{"a":',
    '{"a":1,}',
    "{'a':1}",
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    '/* c */ {}',
    '\ufeff{}',
    '{}garbage',
    '{"a":1}{"b":2}',
    '{"pipeline":"a","pipeline":{"x":1}}',
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"admin":true}}}',
    '['.repeat(10_000) + ']'.repeat(10_000),
    '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
    '"\\ud800"',
    '\u0000',
    'null',
    'true',
    '12',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

export const hostileContentType: fc.Arbitrary<string | undefined> = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/vnd.api+json',
  '*/*',
);

/** A path segment: raw (already encoded) text that is not the expected id. */
export const hostilePathSegment: fc.Arbitrary<string> = fc.oneof(
  hostileString.map((s) => {
    try {
      return encodeURIComponent(s.slice(0, 5000));
    } catch {
      return '%ED%A0%80'; // a lone surrogate cannot be percent-encoded as UTF-8: send the bytes anyway
    }
  }),
  fc.constantFrom('%zz', '%', '%ED%A0%80', '%C0%AF', '%2e%2e', '..', '.', '%2F..%2F', '%252F', 'a%2Fb', '%00', '%20', '+', 'x'.repeat(10_000)),
);

/**
 * Cursors that decode (base64url JSON arrays, the shape the API hands out) but hold hostile
 * values: dates at the ends of the JavaScript range, ids that are not UUIDs, numbers beyond
 * bigint, NULs.
 */
export const hostileCursor: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '+275760-09-13T00:00:00.000Z',
        '-271821-04-20T00:00:00.000Z',
        '1970-01-01T00:00:00.000Z',
        '9999999999999999999',
        '99999999999999999999',
        '0',
        '-1',
      ),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.uuid(),
      hostileString.map((v) => v.slice(0, 100)),
      hostileNumber,
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((values) => Buffer.from(JSON.stringify(values)).toString('base64url'));

export function encodeQueryValue(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

// ---------------------------------------------------------------------------------------------
// Valid-shaped values from the OpenAPI document.

export interface Context {
  doc: OpenApiDoc;
  /** Ids of existing resources, for fields that refer to them. */
  ids: { runId: string; stepId: string };
  /** Valid-shaped bodies per operationId, used for ingest events. */
  bodyFor: (operationId: string) => fc.Arbitrary<Record<string, unknown>> | undefined;
}

const refName = (schema: Schema | undefined) => schema?.$ref?.replace('#/components/schemas/', '');

const smallJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('__proto__'));

/** A value that satisfies `schema` as far as the document says (patterns it does not state may still fail). */
export function validValue(ctx: Context, schema: Schema | undefined, name = ''): fc.Arbitrary<unknown> {
  const ref = refName(schema);
  if (ref === 'IngestEventDto') return ingestEvent(ctx);
  const s = resolveSchema(ctx.doc, schema);
  if (s.enum) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case 'string': {
      if (s.format === 'uuid') return name === 'parentStepId' ? fc.constant(ctx.ids.stepId) : fc.uuid();
      if (s.format === 'date-time') {
        const from = name === 'expiresAt' ? Date.now() + 3_600_000 : Date.UTC(2020, 0, 1);
        return fc.date({ min: new Date(from), max: new Date(Date.UTC(2030, 0, 1)), noInvalidDate: true }).map((d) => d.toISOString());
      }
      return fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/).map((v) => v.slice(0, s.maxLength ?? 200));
    }
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? 0, -1e6), max: Math.min(s.maximum ?? 1e6, 1e6) });
    case 'number':
      return s.maximum !== undefined && s.maximum <= 1 ? fc.double({ min: s.minimum ?? 0, max: s.maximum, noNaN: true }) : fc.integer({ min: 0, max: 1e6 });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const items = resolveSchema(ctx.doc, s.items);
      if (items.enum) return fc.subarray(items.enum, { minLength: 1 });
      return fc.array(validValue(ctx, s.items, name), { minLength: 1, maxLength: 3 });
    }
    case 'object':
    case undefined: {
      if (!s.properties)
        return s.type === 'object'
          ? fc.dictionary(
              fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
              smallJson,
              { maxKeys: 3 },
            )
          : smallJson;
      const required = new Set(s.required ?? []);
      const props: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, prop] of Object.entries(s.properties)) props[key] = validValue(ctx, prop, key);
      return fc.record(props, { requiredKeys: [...required] });
    }
    default:
      return smallJson;
  }
}

const INGEST_TYPES: Record<string, { op: string; ids: (ctx: Context) => Record<string, string> }> = {
  'run-create': { op: 'createRun', ids: () => ({ id: randomUUID() }) },
  'run-update': { op: 'updateRun', ids: (ctx) => ({ id: ctx.ids.runId }) },
  'step-create': { op: 'createStep', ids: (ctx) => ({ id: randomUUID(), runId: ctx.ids.runId }) },
  'step-update': { op: 'updateStep', ids: (ctx) => ({ id: ctx.ids.stepId }) },
  'candidates-create': { op: 'createCandidates', ids: (ctx) => ({ stepId: ctx.ids.stepId }) },
};

/** An ingest event whose body is a valid-shaped body of the matching endpoint plus its path ids. */
function ingestEvent(ctx: Context): fc.Arbitrary<unknown> {
  return fc.constantFrom(...Object.keys(INGEST_TYPES)).chain((type) => {
    const { op, ids } = INGEST_TYPES[type];
    const body = ctx.bodyFor(op) ?? fc.constant({});
    return fc.record({ id: fc.uuid(), type: fc.constant(type), body: body.map((b) => ({ ...b, ...ids(ctx) })) });
  });
}

// ---------------------------------------------------------------------------------------------
// One-field mutations of a valid body.

/** Fields only the server sets: sending them must be refused (mass assignment). */
export const SERVER_OWNED = [
  'projectId',
  'createdAt',
  'updatedAt',
  'durationMs',
  'candidatesStored',
  'storedIn',
  'eliminationRatio',
  'position',
  'prefix',
  'hash',
  'revokedAt',
  'lastUsedAt',
  'key',
];

export type Mutation =
  | { kind: 'replace'; value: unknown }
  | { kind: 'delete' }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'inflate'; times: number }
  | { kind: 'raw'; token: string };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: hostileJson.map((value) => ({ kind: 'replace' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom(...SERVER_OWNED), hostileKey), fc.oneof(hostileJson, fc.constant(0), fc.uuid()))
      .map(([key, value]) => ({ kind: 'add' as const, key, value })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 2000 }).map((times) => ({ kind: 'inflate' as const, times })) },
  { weight: 1, arbitrary: rawToken.map((token) => ({ kind: 'raw' as const, token })) },
);

type Container = Record<string, unknown> | unknown[];

/** Every (container, key) slot of a JSON value, depth first. */
function slots(value: unknown, out: [Container, string | number][] = []): [Container, string | number][] {
  if (Array.isArray(value)) value.forEach((v, i) => (out.push([value, i]), slots(v, out)));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

/** Applies `m` to the `index`-th slot of a copy of `body` (the top-level object when it has none). */
export function mutate(body: unknown, index: number, m: Mutation): { body: unknown; where: string } {
  const copy = structuredClone(body) as Record<string, unknown>;
  const all = slots(copy);
  if (all.length === 0 && (m.kind === 'replace' || m.kind === 'raw')) return { body: m.kind === 'raw' ? m.token : m.value, where: `body:${m.kind}` };
  if (all.length === 0 || m.kind === 'add') {
    const target = (all.length && m.kind === 'add' ? pickObject(all, index) : undefined) ?? copy;
    if (m.kind === 'add') Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return { body: copy, where: `+${m.kind === 'add' ? m.key : '?'}` };
  }
  const [container, key] = all[index % all.length];
  const current = (container as Record<string | number, unknown>)[key];
  switch (m.kind) {
    case 'replace':
      (container as Record<string | number, unknown>)[key] = m.value;
      break;
    case 'raw':
      (container as Record<string | number, unknown>)[key] = m.token;
      break;
    case 'delete':
      if (Array.isArray(container)) container.splice(Number(key), 1);
      else delete container[key as string];
      break;
    case 'inflate':
      (container as Record<string | number, unknown>)[key] = Array.isArray(current)
        ? new Array(m.times).fill(current[0] ?? null)
        : typeof current === 'string'
          ? current.padEnd(Math.min(m.times * 100, FUZZ_LIMITS.maxStringLength + 1), 'x')
          : new Array(m.times).fill(current);
      break;
  }
  return { body: copy, where: `${String(key)}:${m.kind}` };
}

function pickObject(all: [Container, string | number][], index: number): Record<string, unknown> | undefined {
  const objects = all
    .map(([c, k]) => (c as Record<string | number, unknown>)[k])
    .filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v));
  return objects.length && index % 3 === 0 ? objects[index % objects.length] : undefined;
}
