import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { JsonLogger } from '../../src/common/json-logger.js';
import type { TestApp } from '../harness.js';

/**
 * Captures the log lines the app writes (Nest logger and request lines) instead of printing
 * them, at the default level (`info`; stack traces of unexpected errors are `debug` only).
 */
export class CapturingLogger extends JsonLogger {
  readonly lines: string[] = [];
  constructor(level: 'debug' | 'info' = 'info') {
    super(level);
  }
  override write(level: string, fields: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
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
  /** Response schemas by status code. */
  responses: Record<string, Schema | undefined>;
  /**
   * `x-required-scope` (`any`: every valid key, root included), or `root` / `root-or-read` for
   * project management, `public` for health.
   */
  access: 'public' | 'root' | 'root-or-read' | 'ingest' | 'read' | 'delete' | 'admin' | 'feedback' | 'any';
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

/** Follows `$ref`s and single-member `allOf`s (how Nest's Swagger writes nested DTOs). */
export function resolveSchema(doc: OpenApiDoc, schema: Schema | undefined): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 10 && (s.$ref || s.allOf?.length === 1); i++) {
    const next = s.$ref ? doc.components.schemas[s.$ref.replace('#/components/schemas/', '')] : s.allOf![0];
    s = { ...next, ...(s.nullable ? { nullable: true } : {}) };
  }
  return s;
}

/** Every operation of the app's OpenAPI document (schemas as written, `$ref`s kept). */
export async function loadOperations(http: TestApp['http']): Promise<{ doc: OpenApiDoc; operations: Operation[] }> {
  const res = await request(http).get('/docs-json');
  if (res.status !== 200) throw new Error(`GET /docs-json answered ${res.status}`);
  const doc = res.body as OpenApiDoc;
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
      const responses: Record<string, Schema | undefined> = {};
      for (const [status, r] of Object.entries((op.responses ?? {}) as Record<string, { content?: Record<string, { schema: Schema }> }>)) {
        responses[status] = r.content?.['application/json']?.schema;
      }
      operations.push({
        operationId: op.operationId as string,
        method: method as Method,
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: resolveSchema(doc, p.schema) })),
        queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, required: Boolean(p.required), schema: resolveSchema(doc, p.schema) })),
        body,
        responses,
        access,
      });
    }
  }
  return { doc, operations };
}

/** The smallest body the document says is valid: required fields only, simplest values. */
export function minimalBody(doc: OpenApiDoc, schema: Schema | undefined): unknown {
  const s = resolveSchema(doc, schema);
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case 'string':
      if (s.format === 'uuid') return randomUUID();
      if (s.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      return `v-${randomUUID().slice(0, 8)}`;
    case 'integer':
    case 'number':
      return s.minimum ?? 0;
    case 'boolean':
      return true;
    case 'array':
      return [minimalBody(doc, s.items)];
    default: {
      const out: Record<string, unknown> = {};
      for (const key of s.required ?? []) out[key] = minimalBody(doc, s.properties?.[key]);
      return out;
    }
  }
}

/**
 * Keys of a response the document does not declare (excessive data exposure), as dotted
 * paths. Free-form values (an object schema without properties) are not walked.
 */
export function undeclaredKeys(doc: OpenApiDoc, schema: Schema | undefined, value: unknown, path = '', out: string[] = []): string[] {
  const s = resolveSchema(doc, schema);
  if (Array.isArray(value)) {
    value.forEach((v, i) => undeclaredKeys(doc, s.items, v, `${path}[${i}]`, out));
  } else if (typeof value === 'object' && value !== null && s.properties) {
    for (const [key, v] of Object.entries(value)) {
      if (!(key in s.properties)) out.push(path ? `${path}.${key}` : key);
      else undeclaredKeys(doc, s.properties[key], v, path ? `${path}.${key}` : key, out);
    }
  }
  return out;
}

/** Ids of one project's resources, for filling path parameters. */
export interface ResourceIds {
  runId: string;
  otherRunId: string;
  stepId: string;
  apiKeyId: string;
  pipeline: string;
  /** A candidate key stored for `stepId` (for `{key}` in candidate paths). */
  candidateKey?: string;
  /** A run a test may delete (`DELETE /v1/runs/{id}`); without one, deletions name an unknown id, so the shared runs stay. */
  deletableRunId?: string;
  /** A deletion of the project (its log entry). */
  deletionId?: string;
  /** The project itself (for the root key's project routes). */
  projectId?: string;
}

/** Path values naming the given resources: `{id}` after `runs` is a run, after `steps` a step, and so on. */
export function pathValues(op: Operation, ids: ResourceIds): Record<string, string> {
  const values: Record<string, string> = {};
  for (const p of op.pathParams) {
    const before = op.path.split(`{${p.name}}`)[0].split('/').filter(Boolean).pop();
    if (p.name === 'pipeline') values[p.name] = ids.pipeline;
    else if (p.name === 'otherId') values[p.name] = ids.otherRunId;
    else if (p.name === 'id' && before === 'runs' && op.method === 'delete') values[p.name] = ids.deletableRunId ?? randomUUID();
    else if (p.name === 'runId' || (p.name === 'id' && before === 'runs')) values[p.name] = ids.runId;
    else if (p.name === 'id' && before === 'deletions') values[p.name] = ids.deletionId ?? randomUUID();
    else if (p.name === 'id' && before === 'projects') values[p.name] = ids.projectId ?? randomUUID();
    else if (p.name === 'stepId' || (p.name === 'id' && before === 'steps')) values[p.name] = ids.stepId;
    else if (p.name === 'id' && before === 'api-keys') values[p.name] = ids.apiKeyId;
    else if (p.name === 'key' && before === 'candidates') values[p.name] = ids.candidateKey ?? 'x';
    else values[p.name] = p.schema.format === 'uuid' ? randomUUID() : 'x';
  }
  return values;
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
  [
    'a PostgreSQL message',
    /\b(?:relation|column) "[^"]+"|violates (?:check|foreign key|unique) constraint|invalid input syntax for|SQLSTATE|syntax error at or near/i,
  ],
  ['a JavaScript engine error', /\b(?:TypeError|ReferenceError|RangeError|SyntaxError): |is not a function|Cannot read propert/],
  ['an API key', /xr_[0-9A-Za-z]{38}/],
];

/** Only for error bodies: a log line may name the error class and PostgreSQL's message for the operator. */
const BODY_ONLY = new Set(['a database error class', 'a PostgreSQL message', 'a JavaScript engine error']);

/**
 * Names what leaks in `text` (stack traces, SQL, keys, the given secrets), or [] when nothing
 * does. `log: true` checks a log line: the error class and PostgreSQL's message may appear there.
 */
export function findLeaks(text: string, secrets: string[] = [], options: { log?: boolean } = {}): string[] {
  const found = LEAKS.filter(([what, re]) => !(options.log && BODY_ONLY.has(what)) && re.test(text)).map(([what]) => what);
  for (const secret of secrets) if (secret && text.includes(secret)) found.push(`the secret ${secret.slice(0, 6)}…`);
  return found;
}

const TABLES = ['projects', 'api_keys', 'runs', 'steps', 'candidates', 'ingest_events', 'deleted_runs', 'erased_keys'] as const;

/**
 * A fingerprint of everything a request could write (of one project, when named): per table, the row count and a hash of
 * the rows (api_keys without last_used_at, which is touched in the background at most once a
 * minute per key). Equal fingerprints mean nothing was inserted, changed or deleted.
 */
export async function fingerprint(t: TestApp, projectId?: string): Promise<Record<string, string>> {
  const parts = TABLES.map((table) => {
    const row = table === 'api_keys' ? `(x.id, x.project_id, x.name, x.prefix, x.hash, x.scopes, x.created_at, x.expires_at, x.revoked_at)` : 'x';
    const where = projectId === undefined ? '' : ` WHERE x.${table === 'projects' ? 'id' : 'project_id'} = $1`;
    return `SELECT '${table}' AS t, count(*)::text || ':' || coalesce(sum(hashtext(${row}::text)::bigint), 0)::text AS f FROM ${table} x${where}`;
  });
  const rows = await t.sql<{ t: string; f: string }>(parts.join(' UNION ALL '), projectId === undefined ? [] : [projectId]);
  return Object.fromEntries(rows.map((r) => [r.t, r.f]));
}

export const counts = (fp: Record<string, string>): Record<string, number> =>
  Object.fromEntries(Object.entries(fp).map(([k, v]) => [k, Number(v.split(':')[0])]));
