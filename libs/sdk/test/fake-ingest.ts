import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { XrayClient, type XrayClientOptions } from '../src/client.js';
import type { XrayError } from '../src/errors.js';

export interface WireEvent {
  id: string;
  type: string;
  timestamp?: string;
  body: Record<string, unknown>;
}

export interface Received {
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  events: WireEvent[];
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** By default every event is accepted (207, status 201 each). */
export const acceptAll = (events: WireEvent[]): Reply => ({ status: 207, body: { results: events.map((e) => ({ id: e.id, status: 201 })) } });

/**
 * A tiny stand-in for `POST /v1/ingest` on a loopback port: records every request and answers
 * with whatever `reply` says (changeable mid-test).
 */
export class FakeIngest {
  readonly requests: Received[] = [];
  reply: (events: WireEvent[], n: number) => Reply = acceptAll;
  private server?: Server;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every event received, in arrival order, across all requests. */
  get events(): WireEvent[] {
    return this.requests.flatMap((r) => r.events);
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let events: WireEvent[] = [];
        try {
          events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: WireEvent[] }).events;
        } catch {
          events = [];
        }
        this.requests.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, events });
        const r = this.reply(events, this.requests.length);
        res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
        res.end(r.body === undefined ? '' : JSON.stringify(r.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A loopback port nothing listens on (found by listening on it briefly). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Client options that flush and retry quickly, and never wait at process exit. */
export const fast: Partial<XrayClientOptions> = { flushIntervalMs: 10, retryBaseMs: 20, retryMaxMs: 200, exitFlushTimeoutMs: 0 };

/** One test's fake ingest server, a client (fast options) sending to it, and the errors it reported. */
export interface FakeIngestClient {
  server: FakeIngest;
  xray: XrayClient;
  errors: XrayError[];
}

/**
 * In the enclosing describe: before each test, starts a FakeIngest and an XrayClient sending
 * to it that collects its errors, and hands them to `use`; after each, shuts the client down
 * (up to 1s) and stops the server.
 */
export function withFakeIngest(use: (setup: FakeIngestClient) => void): void {
  let setup: FakeIngestClient;
  beforeEach(async () => {
    const server = await new FakeIngest().start();
    const errors: XrayError[] = [];
    const xray = new XrayClient({ baseUrl: server.url, apiKey: 'xr_unit', onError: (e) => errors.push(e), ...fast });
    setup = { server, xray, errors };
    use(setup);
  });
  afterEach(async () => {
    await setup.xray.shutdown({ timeoutMs: 1000 });
    await setup.server.stop();
  });
}
