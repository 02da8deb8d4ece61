import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { createTestDatabase, usingRealPostgres } from './harness.js';

/**
 * The real server process (dist/apps/api/src/main.js, as `npm start` runs it) receives SIGTERM
 * while a 10,000-candidate batch is in flight: the batch must complete and be stored whole,
 * new connections must be refused, and the process must exit on its own.
 */
describe('graceful shutdown', () => {
  let dataDir: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
    if (usingRealPostgres()) {
      const db = await createTestDatabase(process.env.DATABASE_URL!);
      databaseUrl = db.url;
      drop = db.drop;
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'xray-shutdown-'));
    }
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await drop?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function countCandidates(stepId: string): Promise<{ rows: number; storedIn: number }> {
    let embedded: EmbeddedPostgres | undefined;
    const url = databaseUrl ?? (embedded = await EmbeddedPostgres.start(dataDir!)).url;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT (SELECT count(*)::int FROM candidates WHERE step_id = $1) AS rows, (SELECT stored_in FROM steps WHERE id = $1) AS stored_in',
        [stepId],
      );
      return { rows: rows[0].rows, storedIn: rows[0].stored_in };
    } finally {
      await client.end();
      await embedded?.stop();
    }
  }

  it('finishes the in-flight batch, refuses new work, closes the pool and exits', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', XRAY_LOG_FORMAT: 'json', XRAY_SWEEP_INTERVAL: '0' };
    delete env.DATABASE_URL;
    delete env.NODE_OPTIONS;
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    else env.XRAY_DATA_DIR = dataDir;
    child = spawn(process.execPath, ['dist/apps/api/src/main.js'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
      child!.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );

    const deadline = Date.now() + 60_000;
    while (!/listening on http:\/\/localhost:(\d+)/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const base = `http://127.0.0.1:${/listening on http:\/\/localhost:(\d+)/.exec(output)![1]}`;
    const key = /(xr_[0-9A-Za-z]{38})/.exec(output)![1];
    // Logs are JSON lines.
    for (const line of output.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const run = await post('/v1/runs', { pipeline: 'shutdown' });
    const step = await post(`/v1/runs/${run.body.id}/steps`, { name: 'filter' });
    const candidates = Array.from({ length: 10_000 }, (_, i) => ({
      key: `k${i}`,
      decision: i % 3 ? 'rejected' : 'accepted',
      reason: 'r',
      data: { title: `item ${i}`, blob: 'x'.repeat(200) },
    }));

    const inFlight = post(`/v1/steps/${step.body.id}/candidates`, { candidates });
    await new Promise((r) => setTimeout(r, 40));
    const signalledAt = Date.now();
    child.kill('SIGTERM');

    const answer = await inFlight;
    const answeredAt = Date.now();
    expect(answer).toEqual({ status: 201, body: { stored: 10_000 } });

    const exit = await exited;
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(exit.at).toBeGreaterThanOrEqual(answeredAt - 50);
    expect(exit.at - signalledAt).toBeLessThan(25_000);
    await expect(fetch(`${base}/health`)).rejects.toThrow();
    expect(output).toContain('SIGTERM received');

    // Structured request logs: id, project, route, status, latency; the key only in the first-start line.
    const lines = output
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const batchLog = lines.find((l) => l.context === 'http' && l.route === '/v1/steps/:stepId/candidates');
    expect(batchLog).toMatchObject({ status: 201, projectId: expect.any(String), requestId: expect.any(String), latencyMs: expect.any(Number) });
    expect(lines.filter((l) => JSON.stringify(l).includes(key))).toHaveLength(1);
    expect(output).not.toContain('blob');

    expect(await countCandidates(step.body.id as string)).toEqual({ rows: 10_000, storedIn: 10_000 });
  }, 120_000);
});
