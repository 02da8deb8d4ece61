import request from 'supertest';
import { JsonLogger } from '../../src/common/json-logger.js';
import type { TestApp } from '../harness.js';

/** Captures every log line the app writes (Nest logger and request lines) instead of printing it. */
export class CapturingLogger extends JsonLogger {
  readonly lines: string[] = [];
  constructor() {
    super('debug');
  }
  override write(level: string, fields: Record<string, unknown>): void {
    this.lines.push(JSON.stringify({ level, ...fields }));
  }
}

export type Method = 'get' | 'post' | 'patch' | 'delete' | 'put';

export interface Operation {
  operationId: string;
  method: Method;
  /** OpenAPI path template, e.g. `/v1/runs/{id}`. */
  path: string;
  pathParams: { name: string; schema: Schema }[];
  queryParams: { name: string; required: boolean; schema: Schema }[];
  body?: Schema;
  /** `x-required-scope`, or `root` / `root-or-read` for project management, `public` for health. */
  access: 'public' | 'root' | 'root-or-read' | 'ingest' | 'read' | 'admin';
}

export interface Schema {
  type?: string;
  format?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  nullable?: boolean;
  $ref?: string;
  allOf?: Schema[];
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, Schema> };
}

/** Every operation of the app's OpenAPI document, with `$ref`s resolved. */
export async function loadOperations(http: TestApp['http']): Promise<{ doc: OpenApiDoc; operations: Operation[] }> {
  const res = await request(http).get('/docs-json');
  if (res.status !== 200) throw new Error(`GET /docs-json answered ${res.status}`);
  const doc = res.body as OpenApiDoc;
  const resolve = (schema: Schema | undefined, depth = 0): Schema | undefined => {
    if (!schema || depth > 8) return schema;
    if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')], depth + 1);
    if (schema.allOf?.length === 1) return resolve(schema.allOf[0], depth + 1);
    const out: Schema = { ...schema };
    if (schema.items) out.items = resolve(schema.items, depth + 1);
    if (schema.properties) {
      out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, resolve(v, depth + 1)!]));
    }
    return out;
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters ?? []) as { name: string; in: string; required?: boolean; schema: Schema }[];
      const body = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content?.['application/json']?.schema;
      const scope = op['x-required-scope'] as Operation['access'] | undefined;
      const security = op.security as unknown[] | undefined;
      let access: Operation['access'];
      if (scope) access = scope;
      else if (!security || security.length === 0) access = 'public';
      else access = method === 'get' ? 'root-or-read' : 'root';
      operations.push({
        operationId: op.operationId as string,
        method: method as Method,
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: resolve(p.schema)! })),
        queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, required: Boolean(p.required), schema: resolve(p.schema)! })),
        body: resolve(body),
        access,
      });
    }
  }
  return { doc, operations };
}

/** Fills `{name}` placeholders, encoding each value as one path segment. */
export const fillPath = (template: string, values: Record<string, string>): string =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));

export interface Call {
  method: Method;
  path: string;
  /** Raw query string without `?` (already encoded), or pairs to encode. */
  query?: string;
  /** A JSON body as text (sent as is, so it can hold what JSON.stringify cannot write), or a value. */
  bodyText?: string;
  headers?: Record<string, string>;
}

export function send(http: TestApp['http'], call: Call): request.Test {
  const url = call.query ? `${call.path}?${call.query}` : call.path;
  let req = (request(http) as unknown as Record<Method, (u: string) => request.Test>)[call.method](url);
  const headers = call.headers ?? {};
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  if (call.bodyText !== undefined) {
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) req = req.set('Content-Type', 'application/json');
    req = req.send(call.bodyText);
  }
  return req;
}

const ERROR_KEYS = new Set(['statusCode', 'error', 'message', 'details']);

/** Why a response is not a well-formed error answer, or undefined when it is. */
export function errorShapeProblem(res: request.Response): string | undefined {
  const b = res.body as Record<string, unknown> | undefined;
  if (!b || typeof b !== 'object' || Array.isArray(b)) return `body is not a JSON object: ${String(res.text).slice(0, 200)}`;
  const extra = Object.keys(b).filter((k) => !ERROR_KEYS.has(k));
  if (extra.length) return `unexpected keys ${extra.join(', ')}`;
  if (b.statusCode !== res.status) return `statusCode ${String(b.statusCode)} differs from HTTP status ${res.status}`;
  if (typeof b.error !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(b.error)) return `error is not a stable code: ${JSON.stringify(b.error)}`;
  if (typeof b.message !== 'string' || b.message.length === 0) return 'message is not a non-empty string';
  if (b.details !== undefined) {
    if (!Array.isArray(b.details) || b.details.length === 0) return 'details is not a non-empty array';
    for (const d of b.details as Record<string, unknown>[]) {
      if (typeof d?.field !== 'string' || typeof d?.message !== 'string' || Object.keys(d).length !== 2) return `bad detail ${JSON.stringify(d)}`;
    }
  }
  if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) return `content-type ${String(res.headers['content-type'])}`;
  return undefined;
}

/** Things that must never appear in an error body or a log line. */
const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\n\s+at |\bat [\w$.<>[\]]+ \((?:file:|node:|\/)|\bat (?:file:\/\/)?\/[\w/.-]+:\d+/],
  ['node_modules', /node_modules/],
  ['a source path', /\/(?:work|app|src|dist|home|usr|tmp)\/[\w./-]+\.(?:ts|js|mjs)\b/],
  ['a database error class', /QueryFailedError|DatabaseError|TypeORMError|EntityNotFound|PG::|pglite/i],
  ['SQL text', /\b(?:SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|jsonb_to_recordset|ON CONFLICT)\b/i],
  ['a PostgreSQL message', /\b(?:relation|column) "[^"]+"|violates (?:check|foreign key|unique) constraint|invalid input syntax for|SQLSTATE|syntax error at or near/i],
  ['a JavaScript engine error', /\b(?:TypeError|ReferenceError|RangeError|SyntaxError): |is not a function|Cannot read propert/],
  ['an API key', /xr_[0-9A-Za-z]{38}/],
];

/** Names what leaks in `text` (stack traces, SQL, keys, the given secrets), or [] when nothing does. */
export function findLeaks(text: string, secrets: string[] = []): string[] {
  const found = LEAKS.filter(([, re]) => re.test(text)).map(([what]) => what);
  for (const secret of secrets) if (secret && text.includes(secret)) found.push(`the secret ${secret.slice(0, 6)}…`);
  // A key's hash or its base62 body alone would be as bad as the key.
  return found;
}

const TABLES = ['projects', 'api_keys', 'runs', 'steps', 'candidates', 'ingest_events'] as const;

/**
 * A fingerprint of everything a request could write: per table, the row count and a hash of
 * the rows (api_keys without last_used_at, which is touched in the background at most once a
 * minute per key). Equal fingerprints mean nothing was inserted, changed or deleted.
 */
export async function fingerprint(t: TestApp): Promise<Record<string, string>> {
  const parts = TABLES.map((table) => {
    const row = table === 'api_keys' ? `(x.id, x.project_id, x.name, x.prefix, x.hash, x.scopes, x.created_at, x.expires_at, x.revoked_at)` : 'x';
    return `SELECT '${table}' AS t, count(*)::text || ':' || coalesce(sum(hashtext(${row}::text)::bigint), 0)::text AS f FROM ${table} x`;
  });
  const rows = await t.sql<{ t: string; f: string }>(parts.join(' UNION ALL '));
  return Object.fromEntries(rows.map((r) => [r.t, r.f]));
}

export const counts = (fp: Record<string, string>): Record<string, number> =>
  Object.fromEntries(Object.entries(fp).map(([k, v]) => [k, Number(v.split(':')[0])]));
