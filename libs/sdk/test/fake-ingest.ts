import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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
