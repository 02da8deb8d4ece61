import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Shared pieces of the reliability suites: a private PostgreSQL cluster the test owns (so it
 * can kill it), the built API server as a child process (so it can be SIGKILLed and
 * SIGTERMed), an HTTP helper that never throws, and small statistics and reporting helpers.
 *
 * Everything started here is registered and torn down on process exit as a last resort, so a
 * failed or timed-out suite leaves no PostgreSQL or server process behind.
 */

const cleanups = new Set<() => void>();
let exitHookInstalled = false;
function onExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of [...cleanups]) {
        try {
          c();
        } catch {
          /* best effort */
        }
      }
    });
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Where initdb, pg_ctl and postgres live: XRAY_PG_BIN, `pg_config --bindir`, or the newest /usr/lib/postgresql/N/bin. */
function postgresBinDir(): string {
  const candidates: string[] = [];
  if (process.env.XRAY_PG_BIN) candidates.push(process.env.XRAY_PG_BIN);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    /* no pg_config on PATH */
  }
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  const dir = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (!dir) {
    throw new Error('The reliability suites need PostgreSQL server binaries (initdb, pg_ctl); set XRAY_PG_BIN to their folder');
  }
  return dir;
}

/**
 * A PostgreSQL cluster of our own: initdb into a temp folder, its own port, trust auth on
 * 127.0.0.1 only. PostgreSQL refuses to run as root, so as root every command runs as the
 * `postgres` OS user (the folder is handed to it).
 */
export class PgCluster {
  private running = false;
  private frozen = false;
  private readonly unregister: () => void;

  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly asUser: string | undefined,
  ) {
    this.unregister = onExit(() => this.destroySync());
  }

  static async create(settings: Record<string, string | number> = {}): Promise<PgCluster> {
    const bin = postgresBinDir();
    const dir = mkdtempSync(join(tmpdir(), 'xray-reliability-pg-'));
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
    if (asUser) {
      const uid = Number(execFileSync('id', ['-u', asUser], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', asUser], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    const cluster = new PgCluster(bin, dir, await freePort(), asUser);
    try {
      await cluster.run('initdb', ['-D', cluster.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
      const conf: Record<string, string | number> = {
        port: cluster.port,
        listen_addresses: "'127.0.0.1'",
        unix_socket_directories: `'${dir}'`,
        max_connections: 60,
        shared_buffers: "'64MB'",
        log_min_messages: 'warning',
        // The faults here kill processes, not the machine: a commit's WAL reaches the kernel
        // before it is acknowledged, so it survives `pg_ctl stop -m immediate` without fsync.
        // (fsync off also skips the data-directory sync that makes crash recovery slow here.)
        fsync: 'off',
        ...settings,
      };
      const lines = Object.entries(conf)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n');
      writeFileSync(join(cluster.dataDir, 'postgresql.auto.conf'), `${lines}\n`, { flag: 'a' });
      await cluster.start();
      return cluster;
    } catch (err) {
      cluster.destroySync();
      throw err;
    }
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private command(tool: string, args: string[]): [string, string[]] {
    const path = join(this.bin, tool);
    return this.asUser ? ['runuser', ['-u', this.asUser, '--', path, ...args]] : [path, args];
  }

  private run(tool: string, args: string[]): Promise<string> {
    const [cmd, argv] = this.command(tool, args);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${tool} ${args.join(' ')} exited ${code}: ${out}`))));
    });
  }

  async start(): Promise<void> {
    await this.run('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
    this.running = true;
  }

  /** The fault: `pg_ctl stop -m immediate` (no checkpoint, backends killed; recovery on next start). */
  async kill(): Promise<void> {
    await this.run('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
    this.running = false;
  }

  /** The postmaster and every backend, for freezing the whole server. */
  private processes(): number[] {
    const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    let children: number[] = [];
    try {
      children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      /* no children */
    }
    return [pid, ...children];
  }

  /**
   * The fault "the database hangs" (a stalled host, a network partition without resets): every
   * PostgreSQL process is stopped with SIGSTOP. Connections stay open and nothing answers.
   */
  freeze(): void {
    for (const pid of this.processes()) process.kill(pid, 'SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    for (const pid of this.processes()) process.kill(pid, 'SIGCONT');
    this.frozen = false;
  }

  /** Its own log, for diagnostics. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async query<T = Record<string, unknown>>(text: string, params?: unknown[], database = 'postgres'): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** A held connection, for holding locks or watching pg_stat_activity. */
  async connect(database = 'postgres'): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url(database) });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async createDatabase(): Promise<string> {
    const name = `xray_rel_${randomBytes(4).toString('hex')}`;
    await this.query(`CREATE DATABASE ${name}`);
    return name;
  }

  private destroySync(): void {
    if (this.frozen) {
      try {
        this.thaw();
      } catch {
        /* already gone */
      }
    }
    if (this.running) {
      try {
        const [cmd, argv] = this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
        execFileSync(cmd, argv, { stdio: 'ignore' });
      } catch {
        /* already stopped */
      }
      this.running = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stops the cluster (if running) and deletes its folder. */
  async destroy(): Promise<void> {
    if (this.running) await this.kill().catch(() => undefined);
    this.destroySync();
    this.unregister();
  }
}

export const BUILT_SERVER = 'dist/apps/api/src/main.js';

/**
 * The built server (`node dist/apps/api/src/main.js`, as `npm start` runs it) as a child
 * process on a port we choose. Logs are JSON lines at `warn` by default (request logs off, so
 * a load run does not fill memory); the last 256 KiB are kept for diagnostics.
 */
export class ApiProcess {
  private output = '';
  /** With `traceGc`: the heap that survived each full (mark-compact) collection, in MB, over time. */
  readonly liveHeap: { at: number; mb: number }[] = [];
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null; at: number };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private readonly unregister: () => void;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly rootKey: string,
    private readonly tracingGc = false,
  ) {
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal, at: Date.now() };
        resolve(this.exitInfo);
      }),
    );
    const keeper = () => {
      let partial = '';
      return (d: Buffer) => {
        let text = d.toString();
        if (this.tracingGc) {
          // GC trace lines are parsed and kept out of the log; everything else is kept.
          const lines = (partial + text).split('\n');
          partial = lines.pop() ?? '';
          const rest: string[] = [];
          for (const line of lines) {
            const gc = /Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
            if (gc) this.liveHeap.push({ at: Date.now(), mb: Number(gc[1]) });
            else if (!/: (Scavenge|Mark-Compact|Mark-Sweep|Minor)/.test(line)) rest.push(line);
          }
          text = rest.length ? `${rest.join('\n')}\n` : '';
        }
        this.output += text;
        if (this.output.length > 512 * 1024) this.output = this.output.slice(-256 * 1024);
      };
    };
    child.stdout!.on('data', keeper());
    child.stderr!.on('data', keeper());
    this.unregister = onExit(() => {
      if (this.alive) child.kill('SIGKILL');
    });
  }

  /**
   * `traceGc` runs node with `--trace-gc` (a diagnostic flag that changes nothing else) so the
   * live heap after every full collection can be followed: the signal for a leak.
   */
  static async start(
    databaseUrl: string,
    env: Record<string, string> = {},
    rootKey = `root-${randomBytes(24).toString('hex')}`,
    opts: { traceGc?: boolean } = {},
  ): Promise<ApiProcess> {
    if (!existsSync(BUILT_SERVER)) throw new Error(`${BUILT_SERVER} is missing: build it first (npx tsc -p tsconfig.build.json)`);
    const port = await freePort();
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(childEnv)) if (name.startsWith('XRAY_') || name === 'NODE_OPTIONS') delete childEnv[name];
    Object.assign(childEnv, {
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      XRAY_ROOT_KEY: rootKey,
      XRAY_LOG_FORMAT: 'json',
      XRAY_LOG_LEVEL: 'warn',
      XRAY_SWEEP_INTERVAL: '0',
      ...env,
    });
    const args = opts.traceGc ? ['--trace-gc', BUILT_SERVER] : [BUILT_SERVER];
    const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const api = new ApiProcess(child, port, rootKey, opts.traceGc);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!api.alive) throw new Error(`the API exited during start (${JSON.stringify(api.exitInfo)}):\n${api.log()}`);
      const res = await request(api.base, 'GET', '/health/live', undefined, { timeoutMs: 1000 });
      if (res.status === 200) return api;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the API did not start within 60 s:\n${api.log()}`);
      }
      await sleep(100);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.output;
  }

  /** Log lines of unexpected errors (the exception filter's 500 path). */
  unexpectedErrors(): string[] {
    return this.output.split('\n').filter((l) => /Unexpected error|INTERNAL_ERROR|UnhandledPromiseRejection|uncaught/i.test(l));
  }

  /** Resident memory of the server process, from /proc (Linux), in bytes. */
  rss(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
      return kb ? Number(kb[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  async createProject(name = `rel-${randomBytes(3).toString('hex')}`): Promise<{ id: string; key: string }> {
    const res = await request(this.base, 'POST', '/v1/projects', { name }, { key: this.rootKey });
    if (res.status !== 201) throw new Error(`creating a project failed: ${res.status} ${JSON.stringify(res.body)}`);
    const body = res.body as { id: string; apiKey: { key: string } };
    return { id: body.id, key: body.apiKey.key };
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGKILLs it if still running and waits for the exit. */
  async stop(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
    this.unregister();
  }
}

export interface Answer {
  /** HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  body: unknown;
  headers: Headers | undefined;
  ms: number;
  startedAt: number;
  error?: string;
}

/** One HTTP request that never throws: a network failure or timeout is status 0 with `error`. */
export async function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  opts: { key?: string; timeoutMs?: number; payload?: string } = {},
): Promise<Answer> {
  const startedAt = Date.now();
  const headers: Record<string, string> = {};
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  const payload = opts.payload ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(base + path, { method, headers, body: payload, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers, ms: Date.now() - startedAt, startedAt };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return {
      status: 0,
      body: undefined,
      headers: undefined,
      ms: Date.now() - startedAt,
      startedAt,
      error: e.cause?.code ?? e.cause?.message ?? e.name ?? String(err),
    };
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Least-squares slope of y over x. */
export function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export function countBy<T>(items: T[], key: (item: T) => string | number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = String(key(item));
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Prints a suite's findings as an indented block (written straight to stdout, not via console). */
export function report(title: string, lines: (string | [string, unknown])[]): void {
  const width = Math.max(0, ...lines.map((l) => (Array.isArray(l) ? l[0].length : 0)));
  const body = lines.map((l) => (Array.isArray(l) ? `  ${l[0].padEnd(width)}  ${typeof l[1] === 'string' ? l[1] : JSON.stringify(l[1])}` : `  ${l}`));
  process.stdout.write(`\n== ${title}\n${body.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// SDK-shaped traffic: what XrayClient sends to POST /v1/ingest, with the ids we expect to find.
// ---------------------------------------------------------------------------------------------

export interface CandidateInput {
  key: string;
  decision: 'accepted' | 'rejected' | 'selected';
  reason?: string;
  score?: number;
  evaluations?: { check: string; passed: boolean; detail?: string }[];
  data?: unknown;
}

export function candidates(count: number, prefix: string, dataBytes = 40): CandidateInput[] {
  return Array.from({ length: count }, (_, i) => {
    const kept = i % 5 === 0;
    return {
      key: `${prefix}-${i}`,
      decision: kept ? 'accepted' : 'rejected',
      ...(kept ? { score: (i % 100) / 100 } : { reason: i % 2 ? 'price above limit' : 'rating too low' }),
      evaluations: [{ check: 'price', passed: kept, detail: `$${10 + (i % 90)}` }],
      data: { title: `item ${i}`, pad: 'x'.repeat(dataBytes) },
    };
  });
}

export interface IngestBatch {
  /** The request body. */
  body: { events: { id: string; type: string; timestamp: string; body: Record<string, unknown> }[] };
  runId: string;
  stepIds: string[];
  /** Candidate keys per step. */
  keys: Map<string, string[]>;
}

/**
 * One pipeline run as the SDK would send it in one batch: run-create, a step per stage (the
 * second nested under the first), candidates for each, step-updates, run-update.
 */
export function ingestBatch(pipeline: string, candidatesPerStep: number, steps = 2): IngestBatch {
  const runId = randomUUID();
  const now = new Date().toISOString();
  const events: IngestBatch['body']['events'] = [];
  const ev = (type: string, body: Record<string, unknown>) => events.push({ id: randomUUID(), type, timestamp: now, body });
  ev('run-create', { id: runId, pipeline, input: { q: 'laptop stand' }, metadata: { load: true }, tags: ['reliability'] });
  const stepIds: string[] = [];
  const keys = new Map<string, string[]>();
  for (let s = 0; s < steps; s++) {
    const stepId = randomUUID();
    stepIds.push(stepId);
    ev('step-create', { id: stepId, runId, name: `stage-${s}`, type: 'filter', ...(s === 1 ? { parentStepId: stepIds[0] } : {}), input: { s } });
    if (candidatesPerStep > 0) {
      const list = candidates(candidatesPerStep, `${stepId.slice(0, 8)}`);
      keys.set(
        stepId,
        list.map((c) => c.key),
      );
      ev('candidates-create', { stepId, candidates: list });
    }
  }
  for (const stepId of stepIds) ev('step-update', { id: stepId, status: 'success', reasoning: 'done' });
  ev('run-update', { id: runId, status: 'success', output: { ok: true } });
  return { body: { events }, runId, stepIds, keys };
}

/** Runs `fn` over `items`, at most `concurrency` at a time; answers the results in order. */
export async function mapLimit<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** True when a 207 answer applied every event (2xx each). */
export function allApplied(res: Answer): boolean {
  if (res.status !== 207) return false;
  const results = (res.body as { results?: { status: number }[] })?.results;
  return Array.isArray(results) && results.every((r) => r.status >= 200 && r.status < 300);
}
