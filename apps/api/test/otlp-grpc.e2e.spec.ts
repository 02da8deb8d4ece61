import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:net';
import request from 'supertest';
import { loadConfig } from '../src/config/config.js';
import { describeDatabaseError } from '../src/database/database-errors.js';
import { grpcFailure, OtlpGrpcServer } from '../src/otlp/otlp-grpc.server.js';
import { runIdOf } from '../src/otlp/otlp-mapping.js';
import { OTLP } from '../src/otlp/otlp-schema.js';
import { createTestApp, type TestApp } from './harness.js';

/** A raw OTLP/gRPC client: bytes in, bytes out, on the method path exporters call. */
const TraceClient = grpc.makeGenericClientConstructor(
  {
    export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  },
  'TraceService',
);

const at = (ms: number) => String(BigInt(Date.UTC(2026, 10, 30, 12, 0, 0) + ms) * 1_000_000n);
const hex = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0');

/** A two-span trace (root and a retriever child) as protobuf bytes, with optional extra raw spans. */
function exportBytes(trace: number, extra: Record<string, unknown>[] = []): Buffer {
  const traceId = Buffer.from(hex(trace, 16), 'hex');
  const root = Buffer.from(hex(trace * 16 + 1, 8), 'hex');
  const child = Buffer.from(hex(trace * 16 + 2, 8), 'hex');
  const message = OTLP.ExportTraceServiceRequest.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'grpc-service' } }] },
        scopeSpans: [
          {
            scope: { name: 'grpc-test' },
            spans: [
              {
                traceId,
                spanId: child,
                parentSpanId: root,
                name: 'retrieve',
                startTimeUnixNano: at(10),
                endTimeUnixNano: at(50),
                attributes: [{ key: 'openinference.span.kind', value: { stringValue: 'RETRIEVER' } }],
              },
              { traceId, spanId: root, name: 'answer', startTimeUnixNano: at(0), endTimeUnixNano: at(100), status: { code: 1 } },
              ...extra,
            ],
          },
        ],
      },
    ],
  });
  return Buffer.from(OTLP.ExportTraceServiceRequest.encode(message).finish());
}

interface CallResult {
  error?: grpc.ServiceError;
  response?: Buffer;
}

describe('OTLP/gRPC trace receiver (XRAY_OTLP_GRPC_PORT)', () => {
  let t: TestApp;
  let port: number;
  let client: grpc.Client & { export: (...args: unknown[]) => void };
  let project: { id: string; key: string };

  const call = (body: Buffer, key: string | null = project.key, c = client): Promise<CallResult> => {
    const metadata = new grpc.Metadata();
    if (key) metadata.set('authorization', `Bearer ${key}`);
    return new Promise((resolve) =>
      c.export(body, metadata, { deadline: Date.now() + 20_000 }, (error: grpc.ServiceError | null, response?: Buffer) =>
        resolve({ error: error ?? undefined, response }),
      ),
    );
  };
  const response = (r: CallResult) => OTLP.ExportTraceServiceResponse.toObject(OTLP.ExportTraceServiceResponse.decode(r.response!), { longs: String });
  const runs = async () => Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM runs WHERE project_id = $1', [project.id]))[0].n);

  beforeAll(async () => {
    t = await createTestApp({ XRAY_OTLP_GRPC_PORT: '0', XRAY_OTLP_MAX_SPANS: '50' });
    port = t.app.get(OtlpGrpcServer).port!;
    client = new TraceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
    project = await t.newProject('grpc');
  }, 180_000);
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it('stores an export with the same mapping as OTLP/HTTP, answering an empty response; a re-export adds nothing', async () => {
    const result = await call(exportBytes(1));
    expect(result.error).toBeUndefined();
    expect(response(result)).toEqual({});
    const runId = runIdOf(project.id, hex(1, 16));
    const run = await request(t.http).get(`/v1/runs/${runId}`).set('Authorization', `Bearer ${project.key}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ pipeline: 'answer', status: 'success', stepCount: 2 });
    expect(run.body.steps[0]).toMatchObject({ name: 'answer', children: [{ name: 'retrieve', type: 'retrieval' }] });
    expect((await call(exportBytes(1))).error).toBeUndefined();
    const again = await request(t.http).get(`/v1/runs/${runId}`).set('Authorization', `Bearer ${project.key}`);
    expect(again.body).toEqual(run.body);
  });

  it('answers a partial success naming spans with invalid ids, storing the rest', async () => {
    const bad = { traceId: Buffer.from(hex(2, 16), 'hex'), spanId: Buffer.from('abcd', 'hex'), name: 'short id' };
    const result = await call(exportBytes(2, [bad]));
    expect(result.error).toBeUndefined();
    expect(response(result).partialSuccess).toMatchObject({ rejectedSpans: '1', errorMessage: expect.stringMatching(/spanId/) });
    const run = await request(t.http)
      .get(`/v1/runs/${runIdOf(project.id, hex(2, 16))}`)
      .set('Authorization', `Bearer ${project.key}`);
    expect(run.body).toMatchObject({ stepCount: 2 });
  });

  it('refuses without a valid ingest key (UNAUTHENTICATED, PERMISSION_DENIED), storing nothing', async () => {
    const before = await runs();
    expect((await call(exportBytes(3), null)).error).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/authorization/) });
    expect((await call(exportBytes(3), 'xr_not-a-key')).error).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const readKey = (
      await request(t.http)
        .post('/v1/api-keys')
        .set('Authorization', `Bearer ${project.key}`)
        .send({ name: 'reader', scopes: ['read'] })
        .expect(201)
    ).body.key as string;
    expect((await call(exportBytes(3), readKey)).error).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/ingest/) });
    expect(await runs()).toBe(before);
  });

  it('answers INVALID_ARGUMENT for bytes that are not an export, and for an export past XRAY_OTLP_MAX_SPANS (nothing stored)', async () => {
    const before = await runs();
    const garbage = await call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(garbage.error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/protobuf/) });
    const many = Array.from({ length: 60 }, (_, i) => ({
      traceId: Buffer.from(hex(4, 16), 'hex'),
      spanId: Buffer.from(hex(1000 + i, 8), 'hex'),
      name: `span-${i}`,
      startTimeUnixNano: at(i),
      endTimeUnixNano: at(i + 1),
    }));
    const tooMany = await call(exportBytes(4, many));
    expect(tooMany.error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/62 spans.*XRAY_OTLP_MAX_SPANS/) });
    expect(await runs()).toBe(before);
  });

  it('says when to retry: UNAVAILABLE (database) and RESOURCE_EXHAUSTED (rate limit) carry a google.rpc.RetryInfo', () => {
    const outage = describeDatabaseError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))!;
    expect(outage.body.statusCode).toBe(503);
    for (const [status, code] of [
      [503, grpc.status.UNAVAILABLE],
      [429, grpc.status.RESOURCE_EXHAUSTED],
    ]) {
      const failure = grpcFailure(status, 'retry', 5);
      expect(failure.code).toBe(code);
      const [details] = failure.metadata!.get('grpc-status-details-bin') as Buffer[];
      const decoded = OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(details), { longs: Number });
      expect(decoded).toMatchObject({ code, details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo' }] });
      expect(OTLP.RetryInfo.toObject(OTLP.RetryInfo.decode(decoded.details[0].value), { longs: Number })).toEqual({ retryDelay: { seconds: 5 } });
    }
    expect(grpcFailure(400, 'bad', 5).metadata!.get('grpc-status-details-bin')).toEqual([]);
  });

  it('is off unless XRAY_OTLP_GRPC_PORT is set', async () => {
    const off = new OtlpGrpcServer(null as never, null as never, loadConfig({}));
    await off.onApplicationBootstrap();
    expect(off.port).toBeUndefined();
  });
});

describe('OTLP/gRPC with a rate limit, and its lifecycle', () => {
  it('answers RESOURCE_EXHAUSTED with a RetryInfo past XRAY_RATE_LIMIT, and stops listening when the app closes', async () => {
    const t = await createTestApp({ XRAY_OTLP_GRPC_PORT: '0', XRAY_RATE_LIMIT: '2' });
    const port = t.app.get(OtlpGrpcServer).port!;
    const client = new TraceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      export: (...args: unknown[]) => void;
    };
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
    let closed = false;
    try {
      const project = await t.newProject('limited');
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${project.key}`);
      const send = () =>
        new Promise<grpc.ServiceError | null>((resolve) => client.export(exportBytes(9), metadata, (error: grpc.ServiceError | null) => resolve(error)));
      const errors = [await send(), await send(), await send()];
      expect(errors.slice(0, 2)).toEqual([null, null]);
      expect(errors[2]).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/XRAY_RATE_LIMIT/) });
      const [details] = errors[2]!.metadata.get('grpc-status-details-bin') as Buffer[];
      const status = OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(details));
      expect(status.details[0].typeUrl).toBe('type.googleapis.com/google.rpc.RetryInfo');

      expect(await listening()).toBe(true);
      client.close();
      await t.close();
      closed = true;
      expect(await listening()).toBe(false);
    } finally {
      client.close();
      if (!closed) await t.close();
    }
  }, 180_000);
});
