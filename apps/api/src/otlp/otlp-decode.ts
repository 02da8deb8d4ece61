import { AppError } from '../common/app-error.js';
import { OTLP } from './otlp-schema.js';

/**
 * OTLP trace exports, decoded into one plain shape whatever the encoding:
 * - `application/x-protobuf`: protobufjs with the project's schema (otlp-trace.proto);
 * - `application/json`: OTLP/JSON read by hand from JSON.parse, because its rules are not
 *   proto3-JSON's: trace and span ids are hex (case-insensitive), not base64 (a 32-character hex
 *   id is also valid base64 and would decode silently to wrong bytes); int64 values come as
 *   strings or numbers; enums as integers; unknown fields are ignored.
 * A body that cannot be decoded is refused whole (400); a span with invalid ids is left out and
 * counted as rejected (the answer's partial success names why).
 */

export type OtlpValue = string | number | boolean | null | OtlpValue[] | { [key: string]: OtlpValue };
export type Attributes = Record<string, OtlpValue>;

export interface OtlpEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Attributes;
}

export interface OtlpSpan {
  /** Lowercase hex, 32 characters. */
  traceId: string;
  /** Lowercase hex, 16 characters. */
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: OtlpEvent[];
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  resource: Attributes;
  scope: { name?: string; version?: string };
  /** Attributes the exporter dropped already (its own limit). */
  droppedAttributesCount?: number;
}

export interface DecodedTraces {
  spans: OtlpSpan[];
  rejectedSpans: number;
  /** Why spans were rejected (the first few reasons). */
  rejections: string[];
}

export type OtlpEncoding = 'protobuf' | 'json';

/** The encoding of a Content-Type, or undefined when OTLP/HTTP has none for it. */
export function otlpEncoding(contentType: string | undefined): OtlpEncoding | undefined {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

/** Decode failures: the whole body is refused. */
class Undecodable extends Error {}

const MAX_VALUE_DEPTH = 32;
const HEX = /^[0-9a-f]*$/;

export function decodeTraces(body: Buffer, encoding: OtlpEncoding): DecodedTraces {
  let request: unknown;
  try {
    if (encoding === 'json') request = JSON.parse(body.toString('utf8'));
    else {
      const message = OTLP.ExportTraceServiceRequest.decode(body);
      request = OTLP.ExportTraceServiceRequest.toObject(message, { longs: String, enums: Number, oneofs: false });
    }
    return readRequest(request);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const reason = err instanceof Undecodable ? err.message : encoding === 'json' ? 'the body is not valid JSON' : 'the body is not a valid protobuf message';
    throw new AppError(400, 'MALFORMED_OTLP', `Cannot decode the OTLP trace export: ${reason}`);
  }
}

function readRequest(request: unknown): DecodedTraces {
  const out: DecodedTraces = { spans: [], rejectedSpans: 0, rejections: [] };
  const root = object(request, 'the body');
  for (const [r, rs] of list(root.resourceSpans, 'resourceSpans').entries()) {
    const resourceSpans = object(rs, `resourceSpans[${r}]`);
    const resource = attributes(object(resourceSpans.resource ?? {}, 'resource').attributes, 'resource.attributes');
    for (const [s, ss] of list(resourceSpans.scopeSpans, `resourceSpans[${r}].scopeSpans`).entries()) {
      const scopeSpans = object(ss, `scopeSpans[${s}]`);
      const scopeObject = object(scopeSpans.scope ?? {}, 'scope');
      const scope = { name: optionalString(scopeObject.name, 'scope.name'), version: optionalString(scopeObject.version, 'scope.version') };
      for (const [i, raw] of list(scopeSpans.spans, `scopeSpans[${s}].spans`).entries()) {
        const where = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        const span = object(raw, where);
        const traceId = id(span.traceId, 32);
        const spanId = id(span.spanId, 16);
        const parent = span.parentSpanId === undefined || span.parentSpanId === '' ? '' : id(span.parentSpanId, 16);
        const problem = !traceId
          ? 'traceId is not 16 non-zero bytes'
          : !spanId
            ? 'spanId is not 8 non-zero bytes'
            : parent === undefined
              ? 'parentSpanId is not 8 bytes'
              : undefined;
        if (problem) {
          out.rejectedSpans++;
          if (out.rejections.length < 5) out.rejections.push(`${where}: ${problem}`);
          continue;
        }
        const status = object(span.status ?? {}, `${where}.status`);
        const dropped = count(span.droppedAttributesCount, `${where}.droppedAttributesCount`);
        out.spans.push({
          traceId: traceId!,
          spanId: spanId!,
          parentSpanId: parent || undefined,
          name: optionalString(span.name, `${where}.name`) ?? '',
          kind: enumValue(span.kind, `${where}.kind`, [
            'SPAN_KIND_UNSPECIFIED',
            'SPAN_KIND_INTERNAL',
            'SPAN_KIND_SERVER',
            'SPAN_KIND_CLIENT',
            'SPAN_KIND_PRODUCER',
            'SPAN_KIND_CONSUMER',
          ]),
          startTimeUnixNano: nanos(span.startTimeUnixNano, `${where}.startTimeUnixNano`),
          endTimeUnixNano: nanos(span.endTimeUnixNano, `${where}.endTimeUnixNano`),
          attributes: attributes(span.attributes, `${where}.attributes`),
          events: list(span.events, `${where}.events`).map((e, k) => {
            const event = object(e, `${where}.events[${k}]`);
            return {
              name: optionalString(event.name, `${where}.events[${k}].name`) ?? '',
              timeUnixNano: nanos(event.timeUnixNano, `${where}.events[${k}].timeUnixNano`),
              attributes: attributes(event.attributes, `${where}.events[${k}].attributes`),
            };
          }),
          status: {
            code: enumValue(status.code, `${where}.status.code`, ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR']),
            message: optionalString(status.message, `${where}.status.message`) || undefined,
          },
          resource,
          scope,
          ...(dropped ? { droppedAttributesCount: dropped } : {}),
        });
      }
    }
  }
  return out;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Undecodable(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Undecodable(`${where} must be an array`);
  return value;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Undecodable(`${where} must be a string`);
  return value;
}

/** An id as lowercase hex of `length` characters, not all zero; undefined when it is not one. */
function id(value: unknown, length: number): string | undefined {
  const hex =
    Buffer.isBuffer(value) || value instanceof Uint8Array ? Buffer.from(value).toString('hex') : typeof value === 'string' ? value.toLowerCase() : undefined;
  if (hex === undefined || hex.length !== length || !HEX.test(hex) || /^0+$/.test(hex)) return undefined;
  return hex;
}

/** int64/fixed64: a decimal string or a number (protobuf gives strings: longs: String). */
function nanos(value: unknown, where: string): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return BigInt(value);
  // A number past 2^53 was rounded by JSON.parse already (to within 256 ns at today's times).
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 64) return BigInt(value);
  throw new Undecodable(`${where} must be an unsigned 64-bit integer (a decimal string or a number)`);
}

/** A uint32 count (0 when absent). */
function count(value: unknown, where: string): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Undecodable(`${where} must be an unsigned 32-bit integer`);
  return n;
}

/** Enums are integers in OTLP/JSON; the names are accepted too. */
function enumValue(value: unknown, where: string, names: readonly string[]): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && names.includes(value)) return names.indexOf(value);
  throw new Undecodable(`${where} must be an integer`);
}

function attributes(value: unknown, where: string): Attributes {
  const out: Attributes = {};
  for (const [i, kv] of list(value, where).entries()) {
    const pair = object(kv, `${where}[${i}]`);
    const key = optionalString(pair.key, `${where}[${i}].key`);
    if (key === undefined || key === '__proto__') continue;
    out[key] = anyValue(pair.value, `${where}[${i}].value`, 0);
  }
  return out;
}

/** An AnyValue, as plain JSON: kvlists become objects, bytes base64, int64 past 2^53 a string. */
function anyValue(value: unknown, where: string, depth: number): OtlpValue {
  if (value === undefined || value === null) return null;
  if (depth > MAX_VALUE_DEPTH) throw new Undecodable(`${where} nests deeper than ${MAX_VALUE_DEPTH} levels`);
  const v = object(value, where);
  if (v.stringValue !== undefined && v.stringValue !== null) return String(v.stringValue);
  if (v.boolValue !== undefined && v.boolValue !== null) return Boolean(v.boolValue);
  if (v.intValue !== undefined && v.intValue !== null) {
    const n = typeof v.intValue === 'number' ? v.intValue : Number(v.intValue);
    if (!Number.isInteger(n)) throw new Undecodable(`${where}.intValue must be an integer`);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if (v.doubleValue !== undefined && v.doubleValue !== null) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : String(v.doubleValue);
  }
  if (v.arrayValue !== undefined && v.arrayValue !== null) {
    return list(object(v.arrayValue, `${where}.arrayValue`).values, `${where}.arrayValue.values`).map((x, i) => anyValue(x, `${where}[${i}]`, depth + 1));
  }
  if (v.kvlistValue !== undefined && v.kvlistValue !== null) {
    const out: { [key: string]: OtlpValue } = {};
    for (const [i, kv] of list(object(v.kvlistValue, `${where}.kvlistValue`).values, `${where}.kvlistValue.values`).entries()) {
      const pair = object(kv, `${where}.kvlistValue.values[${i}]`);
      const key = optionalString(pair.key, `${where}.kvlistValue.values[${i}].key`);
      if (key !== undefined && key !== '__proto__') out[key] = anyValue(pair.value, `${where}.${key}`, depth + 1);
    }
    return out;
  }
  if (v.bytesValue !== undefined && v.bytesValue !== null) {
    return Buffer.isBuffer(v.bytesValue) || v.bytesValue instanceof Uint8Array ? Buffer.from(v.bytesValue).toString('base64') : String(v.bytesValue);
  }
  return null;
}

/** The answer to an export, in the request's encoding: empty success, or a partial success. */
export function encodeExportResponse(
  encoding: OtlpEncoding,
  rejected?: { rejectedSpans: number; errorMessage: string },
): { body: Buffer; contentType: string } {
  if (encoding === 'json') {
    const body = rejected ? { partialSuccess: { rejectedSpans: String(rejected.rejectedSpans), errorMessage: rejected.errorMessage } } : {};
    return { body: Buffer.from(JSON.stringify(body)), contentType: 'application/json' };
  }
  const message = rejected ? OTLP.ExportTraceServiceResponse.create({ partialSuccess: rejected }) : OTLP.ExportTraceServiceResponse.create({});
  return { body: Buffer.from(OTLP.ExportTraceServiceResponse.encode(message).finish()), contentType: 'application/x-protobuf' };
}

/** A failure answer (google.rpc.Status), in the request's encoding (JSON when it has none). */
export function encodeStatus(encoding: OtlpEncoding | undefined, code: number, message: string): { body: Buffer; contentType: string } {
  if (encoding === 'protobuf') {
    return { body: Buffer.from(OTLP.RpcStatus.encode(OTLP.RpcStatus.create({ code, message })).finish()), contentType: 'application/x-protobuf' };
  }
  return { body: Buffer.from(JSON.stringify({ code, message })), contentType: 'application/json' };
}
