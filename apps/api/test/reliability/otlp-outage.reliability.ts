import * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLP } from '../../src/otlp/otlp-schema.js';
import { ApiProcess, freePort, PgCluster, report, sleep } from './support.js';

/**
 * A database outage under OTLP: the built server against a private PostgreSQL that is killed
 * (`pg_ctl stop -m immediate`) while the real OpenTelemetry protobuf exporter sends a batch of
 * traces. The receiver must answer 503 with Retry-After (OTLP/HTTP) and UNAVAILABLE with a
 * RetryInfo (OTLP/gRPC); the exporter's own retries, once the database is back, must store
 * every span exactly once.
 */
describe('database outage under OTLP', () => {
  let cluster: PgCluster | undefined;
  let api: ApiProcess | undefined;
  let grpcPort: number;

  beforeAll(async () => {
    cluster = await PgCluster.create();
    grpcPort = await freePort();
    api = await ApiProcess.start(cluster.url(), { XRAY_RATE_LIMIT: '0', XRAY_OTLP_GRPC_PORT: String(grpcPort) });
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await cluster?.destroy();
  });

  it("answers 503 with Retry-After (gRPC: UNAVAILABLE with RetryInfo) while the database is down, and the exporter's retries store every span once", async () => {
    const { key } = await api!.createProject('otlp-outage');

    // Three traces of four spans each, recorded by the SDK.
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'outage-service' }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer('outage');
    for (let t = 0; t < 3; t++) {
      const root = tracer.startSpan(`pipeline-${t}`, { attributes: { 'openinference.span.kind': 'CHAIN', 'input.value': `question ${t}` } });
      for (const name of ['retrieve', 'rerank', 'generate']) {
        tracer.startSpan(name, { attributes: { 'openinference.span.kind': 'CHAIN' } }, trace.setSpan(ROOT_CONTEXT, root)).end();
      }
      root.end();
    }
    const spans = memory.getFinishedSpans();
    expect(spans).toHaveLength(12);
    const traceIds = [...new Set(spans.map((s) => s.spanContext().traceId))];

    const exporter = new OTLPTraceExporter({
      url: `${api!.base}/v1/traces`,
      headers: { Authorization: `Bearer ${key}` },
      // Long enough for the retries past the outage (the receiver asks for 5 s between them).
      timeoutMillis: 40_000,
    });

    await cluster!.kill();
    const killedAt = Date.now();

    // What the exporter gets during the outage, seen directly.
    const body = Buffer.from(
      OTLP.ExportTraceServiceRequest.encode(
        OTLP.ExportTraceServiceRequest.fromObject({
          resourceSpans: [
            {
              scopeSpans: [
                {
                  spans: [{ traceId: Buffer.alloc(16, 7), spanId: Buffer.alloc(8, 7), name: 'probe', startTimeUnixNano: '1', endTimeUnixNano: '2' }],
                },
              ],
            },
          ],
        }),
      ).finish(),
    );
    const direct = await fetch(`${api!.base}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    const directBody = Buffer.from(await direct.arrayBuffer());
    expect(direct.status).toBe(503);
    expect(Number(direct.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(direct.headers.get('content-type')).toMatch(/application\/x-protobuf/);
    expect(OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(directBody))).toMatchObject({ code: 14 });

    const client = new (grpc.makeGenericClientConstructor(
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
    ))(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { export: (...args: unknown[]) => void };
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    const grpcError = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.export(body, metadata, { deadline: Date.now() + 15_000 }, (error: grpc.ServiceError | null) => resolve(error)),
    );
    client.close();
    expect(grpcError?.code).toBe(grpc.status.UNAVAILABLE);
    const [details] = grpcError!.metadata.get('grpc-status-details-bin') as Buffer[];
    const status = OTLP.RpcStatus.toObject(OTLP.RpcStatus.decode(details));
    expect(status.details[0].typeUrl).toBe('type.googleapis.com/google.rpc.RetryInfo');
    expect(OTLP.RetryInfo.toObject(OTLP.RetryInfo.decode(status.details[0].value), { longs: Number }).retryDelay.seconds).toBeGreaterThan(0);

    // The exporter starts while the database is down; it comes back 3 s later.
    const exportStarted = Date.now();
    const exported = new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve));
    await sleep(3000);
    const restartAt = Date.now();
    await cluster!.start();
    const upAt = Date.now();
    const result = await exported;
    const exportTook = Date.now() - exportStarted;
    await exporter.shutdown();
    await provider.shutdown();

    const q = <T>(text: string, params?: unknown[]) => cluster!.query<T>(text, params);
    const runs = await q<{ status: string; steps: number; distinct_steps: number }>(
      `SELECT r.status, (SELECT count(*)::int FROM steps s WHERE s.run_id = r.id) AS steps,
              (SELECT count(DISTINCT s.metadata->'otel'->>'spanId')::int FROM steps s WHERE s.run_id = r.id) AS distinct_steps
       FROM runs r WHERE r.metadata->'otel'->>'traceId' = ANY($1::text[])`,
      [traceIds],
    );
    report('database outage under OTLP (pg_ctl stop -m immediate, 3 s, then start)', [
      ['direct export during the outage', `${direct.status}, Retry-After ${direct.headers.get('retry-after')} s`],
      ['gRPC export during the outage', `${grpc.status[grpcError!.code]}, RetryInfo ${JSON.stringify(status.details[0].typeUrl)}`],
      ['database down', `${restartAt - killedAt} ms (start took ${upAt - restartAt} ms)`],
      ['exporter result', `${result.code === 0 ? 'success' : `failed: ${result.error?.message}`} after ${exportTook} ms`],
      ['runs found', JSON.stringify(runs)],
      ['API process', api!.alive ? `still the same process (pid ${api!.pid})` : 'EXITED'],
    ]);
    expect(api!.alive).toBe(true);
    // Success only by retrying: the first attempt met the outage.
    expect(result).toMatchObject({ code: 0 });
    expect(exportTook).toBeGreaterThanOrEqual(3000);
    expect(runs).toHaveLength(3);
    for (const r of runs) expect(r).toEqual({ status: 'success', steps: 4, distinct_steps: 4 });
  }, 150_000);
});
