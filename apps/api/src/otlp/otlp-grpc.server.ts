import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { AppError } from '../common/app-error.js';
import { describeError } from '../common/describe-error.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { encodeExportResponse } from './otlp-decode.js';
import { OTLP } from './otlp-schema.js';
import { OtlpService } from './otlp.service.js';

/** The gRPC status of an HTTP status the shared errors carry (OTLP/gRPC's failure codes). */
const GRPC_STATUS: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  413: grpc.status.INVALID_ARGUMENT,
  429: grpc.status.RESOURCE_EXHAUSTED,
  503: grpc.status.UNAVAILABLE,
};

const identity = (b: Buffer) => b;

/** The key in the call's metadata: `authorization: Bearer <key>`, or `x-api-key: <key>`. */
function presentedKey(metadata: grpc.Metadata): string | undefined {
  const auth = metadata.get('authorization')[0];
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = metadata.get('x-api-key')[0];
  return typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
}

/** The client's address from a gRPC peer (`ipv4:127.0.0.1:5000`, `[::1]:5000`, `127.0.0.1:5000`). */
function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed) return bracketed[1];
  const i = bare.lastIndexOf(':');
  return i > 0 ? bare.slice(0, i) : bare;
}

/**
 * A failure as a gRPC status. Retryable ones (RESOURCE_EXHAUSTED from the rate limit,
 * UNAVAILABLE when the database is) carry a google.rpc.RetryInfo with the delay, in the
 * `grpc-status-details-bin` trailer, which is how OTLP/gRPC says "retry after".
 */
export function grpcFailure(status: number, message: string, retryAfterSeconds?: number): Partial<grpc.StatusObject> {
  const code = GRPC_STATUS[status] ?? grpc.status.INTERNAL;
  const metadata = new grpc.Metadata();
  if (retryAfterSeconds !== undefined && (code === grpc.status.RESOURCE_EXHAUSTED || code === grpc.status.UNAVAILABLE)) {
    const retryInfo = OTLP.RetryInfo.encode(OTLP.RetryInfo.create({ retryDelay: { seconds: retryAfterSeconds } })).finish();
    const details = OTLP.RpcStatus.encode(
      OTLP.RpcStatus.create({ code, message, details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: retryInfo }] }),
    ).finish();
    metadata.set('grpc-status-details-bin', Buffer.from(details));
  }
  return { code, details: message, metadata };
}

/**
 * The OTLP/gRPC trace receiver (`TraceService/Export` of otlp-trace-service.proto) on
 * XRAY_OTLP_GRPC_PORT; off when it is unset. Same decoding, limits and mapping as `POST
 * /v1/traces` (OtlpService.receive), the key from the `authorization` metadata (`ingest` scope,
 * the same rate limit and failed-authentication limit). Started when the app has booted; on
 * shutdown it stops taking calls and lets those in flight finish before the database closes.
 */
@Injectable()
export class OtlpGrpcServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private server?: grpc.Server;
  private readonly logger = new Logger('OtlpGrpc');
  /** The port bound (the configured one, or the one picked for port 0). */
  port?: number;

  constructor(
    private readonly otlp: OtlpService,
    private readonly apiKeys: ApiKeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.otlpGrpcPort === undefined) return;
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.config.maxBodyBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    const method = OTLP.TraceService.methods.Export;
    const definition: grpc.ServiceDefinition = {
      Export: {
        path: `/${OTLP.TraceService.fullName.replace(/^\./, '')}/${method.name}`,
        requestStream: false,
        responseStream: false,
        // Bytes in and out: the handler decodes with the same code as OTLP/HTTP's protobuf body,
        // so an undecodable message is an INVALID_ARGUMENT naming why.
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    };
    server.addService(definition, { Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => void this.export(call, done) });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`0.0.0.0:${this.config.otlpGrpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    this.logger.log(`OTLP/gRPC trace receiver listening on port ${this.port}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      // In-flight calls get the shutdown timeout to finish, then are cut.
      const force = setTimeout(
        () => {
          server.forceShutdown();
          resolve();
        },
        Math.max(1000, this.config.shutdownTimeoutMs),
      );
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private async export(call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>): Promise<void> {
    try {
      const projectId = await this.authenticate(call);
      const rejection = await this.otlp.receive(projectId, call.request, 'protobuf');
      done(null, encodeExportResponse('protobuf', rejection).body);
    } catch (err) {
      const described = describeError(err);
      if (!described) {
        this.logger.error(`OTLP/gRPC export failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return done(grpcFailure(500, 'Internal error'));
      }
      const retryAfter = Number(described.headers['Retry-After']);
      done(grpcFailure(described.body.statusCode, described.body.message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined));
    }
  }

  /** The project of the call's key; the same checks as the HTTP guard for an `ingest` route. */
  private async authenticate(call: grpc.ServerUnaryCall<Buffer, Buffer>): Promise<string> {
    const key = presentedKey(call.metadata);
    if (!key) throw new AppError(401, 'UNAUTHORIZED', 'Missing API key: send the metadata "authorization: Bearer <key>"');
    const auth = await this.apiKeys.authenticate(key, peerAddress(call.getPeer()));
    if (!auth) throw new AppError(401, 'UNAUTHORIZED', 'Invalid, revoked or expired API key');
    if (auth.limited) {
      throw new AppError(
        429,
        'RATE_LIMITED',
        `This API key exceeded ${auth.limited.limit} requests per minute (XRAY_RATE_LIMIT); retry after ${auth.limited.retryAfterSeconds} s`,
        undefined,
        { 'Retry-After': String(auth.limited.retryAfterSeconds) },
      );
    }
    const { scopes } = auth.principal;
    if (!scopes.includes('ingest') && !scopes.includes('admin')) {
      throw new AppError(403, 'INSUFFICIENT_SCOPE', 'This API key lacks the "ingest" scope an export needs');
    }
    return auth.principal.projectId;
  }
}
