import { gzipSync, deflateSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { AppError } from '../common/app-error.js';
import { readOtlpBody } from './otlp-body.js';
import { decodeTraces, encodeExportResponse, encodeStatus, otlpEncoding } from './otlp-decode.js';
import { OTLP } from './otlp-schema.js';

const TRACE = '5b8efff798038103d269b633813fc60c';
const ROOT = 'eee19b7ec3c1b174';
const CHILD = 'eee19b7ec3c1b173';

/** A trace export as OTLP/JSON writes it (hex ids, upper case allowed; int64 as strings). */
const jsonExport = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }], droppedAttributesCount: 0 },
      scopeSpans: [
        {
          scope: { name: 'manual', version: '1.0.0' },
          spans: [
            {
              traceId: TRACE.toUpperCase(),
              spanId: CHILD,
              parentSpanId: ROOT,
              name: 'retrieve',
              kind: 1,
              startTimeUnixNano: '1764547200000000000',
              endTimeUnixNano: 1764547200500000000,
              attributes: [
                { key: 'openinference.span.kind', value: { stringValue: 'RETRIEVER' } },
                { key: 'k', value: { intValue: '5' } },
                { key: 'big', value: { intValue: '9007199254740993' } },
                { key: 'score', value: { doubleValue: 0.5 } },
                { key: 'ok', value: { boolValue: true } },
                { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }] } } },
                { key: 'map', value: { kvlistValue: { values: [{ key: 'x', value: { stringValue: 'y' } }] } } },
              ],
              events: [{ name: 'exception', timeUnixNano: '1764547200400000000', attributes: [{ key: 'exception.type', value: { stringValue: 'Boom' } }] }],
              status: { code: 2, message: 'failed' },
              somethingNew: { ignored: true },
            },
            { traceId: TRACE, spanId: ROOT, name: 'answer', startTimeUnixNano: '1764547200000000000', endTimeUnixNano: '1764547201000000000', status: {} },
          ],
        },
      ],
    },
  ],
};

/** The same export in the binary encoding, written by protobufjs from the schema (ids as bytes). */
function protobufExport(): Buffer {
  const bytes = (hex?: string) => (hex ? Buffer.from(hex, 'hex') : undefined);
  const message = OTLP.ExportTraceServiceRequest.fromObject({
    resourceSpans: jsonExport.resourceSpans.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...ss,
        spans: ss.spans.map((span) => ({ ...span, traceId: bytes(span.traceId), spanId: bytes(span.spanId), parentSpanId: bytes(span.parentSpanId) })),
      })),
    })),
  });
  return Buffer.from(OTLP.ExportTraceServiceRequest.encode(message).finish());
}

const expectedChild = {
  traceId: TRACE,
  spanId: CHILD,
  parentSpanId: ROOT,
  name: 'retrieve',
  kind: 1,
  startTimeUnixNano: 1764547200000000000n,
  endTimeUnixNano: 1764547200500000000n,
  attributes: { 'openinference.span.kind': 'RETRIEVER', k: 5, big: '9007199254740993', score: 0.5, ok: true, list: ['a', 2], map: { x: 'y' } },
  events: [{ name: 'exception', timeUnixNano: 1764547200400000000n, attributes: { 'exception.type': 'Boom' } }],
  status: { code: 2, message: 'failed' },
  resource: { 'service.name': 'shop' },
  scope: { name: 'manual', version: '1.0.0' },
};

const read = (bytes: Buffer, encoding?: string, limit = 1 << 20) => readOtlpBody(Readable.from([bytes]), encoding, limit);
const failure = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected a failure');
};

describe('OTLP trace decoding', () => {
  it('decodes the binary encoding: ids to hex, fixed64 times to bigint, every AnyValue kind', () => {
    const decoded = decodeTraces(protobufExport(), 'protobuf');
    expect(decoded.rejectedSpans).toBe(0);
    expect(decoded.spans[0]).toEqual(expectedChild);
    expect(decoded.spans[1]).toMatchObject({ spanId: ROOT, parentSpanId: undefined, status: { code: 0 }, events: [] });
  });

  it('decodes OTLP/JSON the same way: hex ids of any case (not base64), int64 as string or number, unknown fields ignored', () => {
    const decoded = decodeTraces(Buffer.from(JSON.stringify(jsonExport)), 'json');
    expect(decoded.spans[0]).toEqual(expectedChild);
    expect(decoded.spans[1].parentSpanId).toBeUndefined();
  });

  it('rejects spans with ids of the wrong length or not hex, keeping the others', () => {
    const bad = structuredClone(jsonExport);
    bad.resourceSpans[0].scopeSpans[0].spans[0].traceId = 'zz'.repeat(16);
    const decoded = decodeTraces(Buffer.from(JSON.stringify(bad)), 'json');
    expect(decoded.spans.map((s) => s.spanId)).toEqual([ROOT]);
    expect(decoded.rejectedSpans).toBe(1);
    expect(decoded.rejections[0]).toMatch(/traceId/);
  });

  it('refuses bodies that cannot be decoded with a 400', async () => {
    for (const [body, encoding] of [
      [Buffer.from('{"resourceSpans": ['), 'json'],
      [Buffer.from('{"resourceSpans": {}}'), 'json'],
      [Buffer.from('[1]'), 'json'],
      [protobufExport().subarray(0, 40), 'protobuf'],
      [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'protobuf'],
    ] as const) {
      const err = await failure(() => decodeTraces(body, encoding));
      expect(err).toBeInstanceOf(AppError);
      expect(err.status).toBe(400);
    }
  });

  it('reads gzip and deflate bodies', async () => {
    const bytes = protobufExport();
    await expect(read(gzipSync(bytes), 'gzip')).resolves.toEqual(bytes);
    await expect(read(deflateSync(bytes), 'deflate')).resolves.toEqual(bytes);
    await expect(read(bytes, undefined)).resolves.toEqual(bytes);
  });

  it('applies the limit after decompression: a gzip bomb stops at the limit (413)', async () => {
    const bomb = gzipSync(Buffer.alloc(64 << 20)); // 64 MiB of zeros in ~64 KiB
    expect(bomb.length).toBeLessThan(1 << 20);
    const err = await failure(read(bomb, 'gzip', 1 << 20));
    expect(err.status).toBe(413);
    expect((await failure(read(Buffer.alloc(2048), undefined, 1024))).status).toBe(413);
  });

  it('refuses a broken gzip stream (400) and an unknown encoding (415)', async () => {
    expect((await failure(read(Buffer.from('not gzip at all'), 'gzip'))).status).toBe(400);
    expect((await failure(read(Buffer.from('x'), 'br'))).status).toBe(415);
  });

  it('answers in the request encoding', () => {
    expect(otlpEncoding('application/x-protobuf')).toBe('protobuf');
    expect(otlpEncoding('application/json; charset=utf-8')).toBe('json');
    expect(otlpEncoding('text/plain')).toBeUndefined();
    expect(encodeExportResponse('protobuf').body.length).toBe(0);
    expect(JSON.parse(encodeExportResponse('json').body.toString())).toEqual({});
    const partial = encodeExportResponse('protobuf', { rejectedSpans: 2, errorMessage: 'bad ids' });
    expect(OTLP.ExportTraceServiceResponse.toObject(OTLP.ExportTraceServiceResponse.decode(partial.body), { longs: String })).toEqual({
      partialSuccess: { rejectedSpans: '2', errorMessage: 'bad ids' },
    });
    expect(JSON.parse(encodeExportResponse('json', { rejectedSpans: 2, errorMessage: 'bad ids' }).body.toString())).toEqual({
      partialSuccess: { rejectedSpans: '2', errorMessage: 'bad ids' },
    });
    const status = encodeStatus('protobuf', 3, 'cannot decode');
    expect(OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(status.body))).toEqual({ code: 3, message: 'cannot decode' });
  });
});
