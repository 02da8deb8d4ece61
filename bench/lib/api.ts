/**
 * Starts the API for a benchmark, in production mode:
 * - `process` (the full suite): `node dist/apps/api/src/main.js` as a child process, so its
 *   CPU and memory are its own and can be read from /proc;
 * - `inline` (the smoke run inside jest): the same AppModule in this process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CpuProfile } from './profile.js';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export type ApiMode = 'process' | 'inline';

export interface ApiOptions {
  databaseUrl: string;
  mode: ApiMode;
  /** Extra environment for the API (XRAY_*). */
  env?: Record<string, string>;
  /** Extra node flags for the child process. */
  nodeArgs?: string[];
  /** Make the API CPU-profilable on demand (see {@link RunningApi.profiler}). */
  profile?: boolean;
}

export interface Profiler {
  start(): Promise<void>;
  stop(): Promise<CpuProfile>;
}

export interface RunningApi {
  baseUrl: string;
  rootKey: string;
  /** The child's pid (process mode). */
  pid?: number;
  /** Resident memory now and its peak since start, in MiB (this process's own in inline mode). */
  memory(): { rssMiB: number; peakRssMiB: number };
  /** Starts and stops V8's sampling profiler in the API (when started with `profile`). */
  profiler?: Profiler;
  /** A new project and its admin API key. */
  newProject(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM (peak resident set) of a process, in MiB. */
export function procMemory(pid: number | 'self'): { rssMiB: number; peakRssMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
  } catch {
    const rss = process.memoryUsage().rss / 1024 ** 2;
    return { rssMiB: rss, peakRssMiB: rss };
  }
}

/** Environment every benchmark API gets: production mode, quiet, no background sweep. */
function apiEnv(opts: ApiOptions, port: number, rootKey: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: opts.databaseUrl,
    PORT: String(port),
    XRAY_ROOT_KEY: rootKey,
    XRAY_LOG_LEVEL: 'warn',
    XRAY_LOG_FORMAT: 'json',
    XRAY_SWEEP_INTERVAL: '0',
    ...opts.env,
  };
}

async function waitUntilUp(baseUrl: string, child: ChildProcess | undefined, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`the API exited with code ${child.exitCode} while starting:\n${output()}`);
    try {
      const res = await fetch(`${baseUrl}/health/ready`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the API did not become ready within 60 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const MAIN_JS = fileURLToPath(new URL('../../apps/api/src/main.js', import.meta.url));

export async function startApi(opts: ApiOptions): Promise<RunningApi> {
  const port = await freePort();
  const rootKey = `bench-root-${randomBytes(16).toString('hex')}`;
  const env = apiEnv(opts, port, rootKey);
  const baseUrl = `http://127.0.0.1:${port}`;
  let stop: () => Promise<void>;
  let memory: () => { rssMiB: number; peakRssMiB: number };
  let pid: number | undefined;
  let profiler: Profiler | undefined;

  if (opts.mode === 'process') {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run npm run build:bench first`);
    const nodeArgs = [...(opts.nodeArgs ?? [])];
    let profileDir: string | undefined;
    if (opts.profile) {
      profileDir = mkdtempSync(join(tmpdir(), 'xray-bench-profile-'));
      env.XRAY_BENCH_PROFILE = join(profileDir, 'api.cpuprofile');
      nodeArgs.push('--import', new URL('./cpu-profile-hook.js', import.meta.url).href);
    }
    const child = spawn(process.execPath, [...nodeArgs, MAIN_JS], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    pid = child.pid;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitUntilUp(baseUrl, child, () => output);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    memory = () => procMemory(child.pid!);
    if (profileDir) {
      const file = env.XRAY_BENCH_PROFILE;
      const waitFor = async (path: string) => {
        const deadline = Date.now() + 30_000;
        while (!existsSync(path)) {
          if (Date.now() > deadline) throw new Error(`the API's profiler did not answer (${path})`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      profiler = {
        start: async () => {
          child.kill('SIGWINCH');
          await waitFor(`${file}.started`);
        },
        stop: async () => {
          child.kill('SIGWINCH');
          await waitFor(`${file}.done`);
          const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
          rmSync(profileDir!, { recursive: true, force: true });
          return profile;
        },
      };
    }
    stop = async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    };
  } else {
    // Same modules and setup as main.ts, configured from the environment for the duration of the boot.
    const saved: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    try {
      const [{ NestFactory }, { AppModule }, { configureApp }] = await Promise.all([
        import('@nestjs/core'),
        import('../../apps/api/src/app.module.js'),
        import('../../apps/api/src/app.setup.js'),
      ]);
      const app = await NestFactory.create(AppModule, { bodyParser: false, logger: false });
      configureApp(app);
      await app.listen(port, '127.0.0.1');
      memory = () => procMemory('self');
      stop = () => app.close();
      if (opts.profile) profiler = inProcessProfiler();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    await waitUntilUp(baseUrl, undefined, () => '');
  }

  return {
    baseUrl,
    rootKey,
    pid,
    profiler,
    memory,
    stop,
    async newProject(name: string) {
      const res = await fetch(`${baseUrl}/v1/projects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${name}-${randomBytes(3).toString('hex')}` }),
      });
      const body = (await res.json()) as { apiKey?: { key: string } };
      if (res.status !== 201 || !body.apiKey) throw new Error(`creating a project failed: ${res.status} ${JSON.stringify(body)}`);
      return body.apiKey.key;
    },
  };
}

/** Profiles this very process (inline mode: the load generator's time is in it too). */
function inProcessProfiler(): Profiler {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    start: async () => {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 250 });
      await post('Profiler.start');
    },
    stop: async () => {
      const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
      session.disconnect();
      return profile;
    },
  };
}
