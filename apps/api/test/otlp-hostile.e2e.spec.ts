import fc from 'fast-check';
import request from 'supertest';
import { deflateSync, gzipSync } from 'node:zlib';
import { OTLP } from '../src/otlp/otlp-schema.js';
import { runIdOf, stepIdOf } from '../src/otlp/otlp-mapping.js';
import { createTestApp, type TestApp } from './harness.js';

/**
 * Bodies an OTLP receiver must survive: each gets a 4xx or a partial success naming the cause,
 * never a 500, and nothing of a refused span or export is stored.
 */

const at = (ms: number) => String(BigInt(Date.UTC(2026, 10, 30, 12, 0, 0) + ms) * 1_000_000n);
const hex = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0');

interface RawSpan {
  traceId: Buffer | string;
  spanId: Buffer | string;
  parentSpanId?: Buffer | string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

const span = (trace: number, n: number, parent?: number): RawSpan => ({
  traceId: Buffer.from(hex(trace, 16), 'hex'),
  spanId: Buffer.from(hex(trace * 1_000_000 + n, 8), 'hex'),
  ...(parent !== undefined ? { parentSpanId: Buffer.from(hex(trace * 1_000_000 + parent, 8), 'hex') } : {}),
  name: `span-${n}`,
  startTimeUnixNano: at(n),
  endTimeUnixNano: at(n + 1),
});

const protobuf = (spans: RawSpan[]): Buffer =>
  Buffer.from(
    OTLP.ExportTraceServiceRequest.encode(
      OTLP.ExportTraceServiceRequest.fromObject({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans }] }] }),
    ).finish(),
  );

const json = (spans: Record<string, unknown>[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

const binary = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => done(null, Buffer.concat(chunks)));
};

describe('OTLP/HTTP receiver under hostile input', () => {
  let t: TestApp;
  let project: { id: string; key: string };

  const post = (body: Buffer | string, contentType: string | undefined, encoding?: string) => {
    let r = request(t.http).post('/v1/traces').set('Authorization', `Bearer ${project.key}`);
    if (contentType) r = r.set('Content-Type', contentType);
    if (encoding) r = r.set('Content-Encoding', encoding);
    // Bytes as they are: supertest would turn a Buffer sent as JSON into JSON text of its bytes.
    return r
      .serialize((b: unknown) => b as string)
      .buffer(true)
      .parse(binary)
      .send(body);
  };
  const counts = async () =>
    (
      await t.sql<{ runs: string; steps: string }>(
        'SELECT (SELECT count(*) FROM runs WHERE project_id = $1) AS runs, (SELECT count(*) FROM steps WHERE project_id = $1) AS steps',
        [project.id],
      )
    )[0];
  const status = (res: request.Response) => OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(res.body as Buffer));

  beforeAll(async () => {
    t = await createTestApp();
    project = await t.newProject('otlp-hostile');
  }, 180_000);
  afterAll(async () => t?.close());

  it('refuses a truncated export whole (400 naming protobuf), storing nothing', async () => {
    const before = await counts();
    const whole = protobuf([span(1, 1), span(1, 2, 1), span(1, 3, 1)]);
    for (const cut of [1, Math.floor(whole.length / 2), whole.length - 3]) {
      const res = await post(whole.subarray(0, cut), 'application/x-protobuf');
      expect(res.status).toBe(400);
      expect(status(res)).toMatchObject({ code: 3, message: expect.stringMatching(/protobuf/) });
    }
    expect(await counts()).toEqual(before);
  });

  it('never answers a 5xx to random bytes, as protobuf or JSON, plain or claiming gzip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 512 }),
        fc.constantFrom('application/x-protobuf', 'application/json'),
        fc.constantFrom(undefined, 'gzip', 'deflate'),
        async (bytes, type, encoding) => {
          const res = await post(Buffer.from(bytes), type, encoding);
          // Random bytes may happen to be a valid (empty or id-less) export: 200; else 400.
          expect([200, 400]).toContain(res.status);
        },
      ),
      { numRuns: 150, seed: 1414 },
    );
  });

  it('answers 415 for a content type or encoding OTLP/HTTP has not, and 400 for a body of the other encoding', async () => {
    const body = protobuf([span(2, 1)]);
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', undefined]) {
      const res = await post(body, type);
      expect({ type, status: res.status }).toEqual({ type, status: 415 });
    }
    expect((await post(body, 'application/x-protobuf', 'br')).status).toBe(415);
    // Protobuf bytes sent as JSON, JSON sent as protobuf, a body that is not the gzip it claims.
    expect((await post(body, 'application/json')).status).toBe(400);
    const jsonAsProto = await post(json([{ traceId: hex(2, 16), spanId: hex(1, 8), name: 'x' }]), 'application/x-protobuf');
    expect(jsonAsProto.status).toBe(400);
    expect(status(jsonAsProto).message).toMatch(/protobuf/);
    expect((await post(body, 'application/x-protobuf', 'gzip')).status).toBe(400);
    expect((await post(deflateSync(body), 'application/x-protobuf', 'deflate')).status).toBe(200);
  });

  it('cuts a gzip bomb off at XRAY_MAX_BODY after decompression (413), whether protobuf or JSON', async () => {
    const bomb = gzipSync(Buffer.alloc(t.config.maxBodyBytes * 4, 0x20));
    expect(bomb.length).toBeLessThan(t.config.maxBodyBytes / 10);
    for (const type of ['application/x-protobuf', 'application/json']) {
      const res = await post(bomb, type, 'gzip');
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toMatch(type === 'application/json' ? /json/ : /protobuf/);
    }
  });

  it('rejects spans with non-hex ids, ids of the wrong length or all zeros (partial success naming them), storing the rest and nothing of them', async () => {
    const good = { traceId: hex(3, 16), spanId: hex(1, 8), name: 'good', startTimeUnixNano: at(0), endTimeUnixNano: at(1) };
    const bad = [
      { ...good, spanId: 'zz'.repeat(8) },
      { ...good, traceId: 'xy'.repeat(16), spanId: hex(2, 8) },
      { ...good, traceId: hex(3, 15), spanId: hex(3, 8) },
      { ...good, spanId: hex(4, 9) },
      { ...good, spanId: '0'.repeat(16) },
      { ...good, spanId: hex(5, 8), parentSpanId: 'not-hex!' },
    ];
    const res = await post(json([good, ...bad]), 'application/json');
    expect(res.status).toBe(200);
    const answer = JSON.parse((res.body as Buffer).toString());
    expect(answer.partialSuccess).toMatchObject({
      rejectedSpans: '6',
      errorMessage: expect.stringMatching(/spanId is not 8 non-zero bytes.*traceId is not 16/),
    });
    const steps = await t.sql<{ id: string }>('SELECT id FROM steps WHERE run_id = $1', [runIdOf(project.id, hex(3, 16))]);
    expect(steps.map((s) => s.id)).toEqual([stepIdOf(project.id, hex(3, 16), hex(1, 8))]);

    // The same in the binary encoding: ids of 7 and 9 bytes.
    const proto = await post(
      protobuf([span(4, 1), { ...span(4, 2, 1), spanId: Buffer.alloc(7, 1) }, { ...span(4, 3, 1), traceId: Buffer.alloc(9, 1) }]),
      'application/x-protobuf',
    );
    expect(proto.status).toBe(200);
    const decoded = OTLP.ExportTraceServiceResponse.toObject(OTLP.ExportTraceServiceResponse.decode(proto.body as Buffer), { longs: String });
    expect(decoded.partialSuccess).toMatchObject({ rejectedSpans: '2' });
    expect(Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM steps WHERE run_id = $1', [runIdOf(project.id, hex(4, 16))]))[0].n)).toBe(1);
  });

  it('refuses an export of 100,000 spans whole with 413 past XRAY_OTLP_MAX_SPANS, storing nothing of it', async () => {
    const before = await counts();
    const spans = Array.from({ length: 100_000 }, (_, i) => span(5, i + 1, i === 0 ? undefined : 1));
    const body = protobuf(spans);
    expect(body.length).toBeLessThan(t.config.maxBodyBytes);
    const res = await post(body, 'application/x-protobuf');
    expect(res.status).toBe(413);
    expect(status(res)).toMatchObject({ message: expect.stringMatching(/100000 spans.*10000.*XRAY_OTLP_MAX_SPANS.*nothing was stored/) });
    expect(await counts()).toEqual(before);
  });
});
