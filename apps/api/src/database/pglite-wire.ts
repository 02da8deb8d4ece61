import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/**
 * Serves one PGlite database to many `pg` connections over the PostgreSQL wire protocol.
 *
 * PGlite has a single session, so connections take turns. A turn is a whole request, never a
 * single message: the messages a client sends up to its `Sync` (extended protocol) or its
 * `Query` (simple protocol) run together. And a connection keeps the session for as long as
 * PostgreSQL says it is busy with it: until its last response ends in `ReadyForQuery` with
 * the status idle. So a transaction, a COPY in progress or a half-sent extended query is never
 * interleaved with another connection's statements. (A socket front that interleaves single
 * messages lets one connection's `Parse` replace another's unnamed statement before its `Bind`:
 * "bind message supplies 1 parameters, but prepared statement requires 2" under load.)
 */

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const GSS_REQUEST = 80877104;
/** Messages after which the server answers; a turn ends with one of them. */
const ENDS_REQUEST = new Set(['S', 'Q', 'c', 'f', 'H']);
const TERMINATE = 'X';

interface Turn {
  connection: Connection;
  bytes: Uint8Array;
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private started = false;
  /** Messages received that do not yet end a request. */
  private pending: Buffer[] = [];
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly wire: PgliteWire,
  ) {}

  receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSS_REQUEST) {
          this.socket.write('N'); // no encryption on loopback; the client goes on in plain text
        } else if (code === CANCEL_REQUEST) {
          this.socket.end(); // not supported: statements run to completion
          return;
        } else {
          this.started = true;
          this.wire.submit({ connection: this, bytes: message });
        }
        continue;
      }
      if (this.buffer.length < 5) return;
      const length = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < length) return;
      const type = String.fromCharCode(this.buffer[0]);
      const message = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      if (type === TERMINATE) {
        this.socket.end();
        return;
      }
      this.pending.push(message);
      if (ENDS_REQUEST.has(type)) {
        this.wire.submit({ connection: this, bytes: Buffer.concat(this.pending) });
        this.pending = [];
      }
    }
  }
}

export class PgliteWire {
  private server?: Server;
  private readonly connections = new Set<Connection>();
  private readonly queue: Turn[] = [];
  /** The connection the session belongs to until PostgreSQL reports it idle again. */
  private owner?: Connection;
  /** The connection whose turn is running now, if any (drain() cleans up after it). */
  private current?: Connection;
  private running = false;

  constructor(private readonly db: PGlite) {}

  async listen(host: string, port: number): Promise<string> {
    await this.db.waitReady;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('the embedded database socket has no address');
    return `${host}:${address.port}`;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  submit(turn: Turn): void {
    this.queue.push(turn);
    void this.drain();
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection = new Connection(socket, this);
    this.connections.add(connection);
    socket.on('data', (chunk) => connection.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      connection.closed = true;
      this.connections.delete(connection);
      for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].connection === connection) this.queue.splice(i, 1);
      // Gone between its turns while owning the session; one gone during its turn is drain()'s.
      if (this.owner === connection && this.current !== connection) void this.abandon(connection).then(() => this.drain());
    });
  }

  /**
   * The owner went away mid-transaction (or mid-COPY): undo its work and free the session. Only
   * the owner's turns may run meanwhile, and it has none left, so the ROLLBACK is its own.
   */
  private async abandon(connection: Connection): Promise<void> {
    // (exec takes PGlite's own lock: not inside runExclusive, which would wait for itself)
    await this.db.exec('ROLLBACK').catch(() => undefined);
    if (this.owner === connection) this.owner = undefined;
  }

  private next(): Turn | undefined {
    if (!this.owner) return this.queue.shift();
    const i = this.queue.findIndex((t) => t.connection === this.owner);
    return i === -1 ? undefined : this.queue.splice(i, 1)[0];
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let turn = this.next(); turn; turn = this.next()) {
        const { connection } = turn;
        this.current = connection;
        let tail: Buffer = Buffer.alloc(0);
        await this.db.runExclusive(() =>
          this.db.execProtocolRawStream(turn.bytes, {
            onRawData: (data) => {
              if (data.length === 0) return;
              const chunk = Buffer.from(data);
              tail = chunk.length >= 6 ? chunk.subarray(chunk.length - 6) : Buffer.concat([tail, chunk]).subarray(-6);
              if (!connection.closed) connection.socket.write(chunk);
            },
          }),
        );
        // ReadyForQuery ('Z', length 5, status) ends every complete response; 'I' means idle.
        const idle = tail.length === 6 && tail[0] === 0x5a && tail.readInt32BE(1) === 5 && tail[5] === 0x49;
        this.owner = idle ? undefined : connection;
        this.current = undefined;
        if (connection.closed && !idle) await this.abandon(connection);
      }
    } finally {
      this.current = undefined;
      this.running = false;
    }
  }
}
