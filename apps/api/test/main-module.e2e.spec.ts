import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BuiltCopy, buildCopy } from './built-copy.js';
import { createTestDatabase, usingRealPostgres } from './harness.js';

/**
 * Scripts that start only when they are the main module run from a folder whose path has a
 * space (they used to compare import.meta.url with `file://` + argv[1], silently did nothing
 * and exited 0). The service's own boot failure is logged with its reason in JSON mode.
 */
describe('scripts run from a path with a space', () => {
  let copy: BuiltCopy;
  let databaseEnv: Record<string, string | undefined>;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    copy = await buildCopy();
    expect(copy.dir).toContain(' ');
    if (usingRealPostgres()) {
      const db = await createTestDatabase(process.env.DATABASE_URL!);
      drop = db.drop;
      databaseEnv = { DATABASE_URL: db.url };
    } else {
      databaseEnv = { DATABASE_URL: undefined, XRAY_DATA_DIR: join(copy.dir, 'embedded data') };
    }
  }, 120_000);

  afterAll(async () => {
    await drop?.();
    copy?.remove();
  });

  it('bench/seed.js seeds in rounds, reporting progress, rate and ETA', async () => {
    // Its own database first: the embedded one's WASM start and every migration, or on a Citus
    // cluster the distribution of every table (~30 s on a quiet machine here, more when loaded).
    const result = await copy.run('bench/seed.js', ['--runs', '5', '--batch', '2', '--project', 'seed-space'], databaseEnv, 170_000);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Seeding 5 runs into project "seed-space"');
    const progress = result.stdout.split('\n').filter((l) => / runs \(\d+%\)/.test(l));
    // The first round always reports; later ones at most once a second; the last always.
    expect(progress[0]).toMatch(/^ {2}2\/5 runs \(40%\): [\d,]+ runs\/s, [\d,]+ candidates\/s, ETA \d+ (s|min)/);
    expect(progress[progress.length - 1]).toMatch(/^ {2}5\/5 runs \(100%\): [\d,]+ runs\/s, [\d,]+ candidates\/s, done in \d+ s$/);
    expect(result.stdout).toMatch(/Done in [\d.]+ s: 5 runs, 50 steps, 500 candidates\./);
  }, 180_000);

  it('bench/lib/baseline-server.js starts its server', async () => {
    const config = join(copy.dir, 'baseline config.json');
    writeFileSync(config, JSON.stringify({ kind: 'bare', port: 0, bodies: { '/health': '{"status":"ok"}' } }));
    const child = spawn(process.execPath, [join(copy.dir, 'bench/lib/baseline-server.js'), config], { env: { ...process.env, NODE_OPTIONS: '' } });
    const output = await new Promise<{ stdout: string; code: number | null }>((done) => {
      let stdout = '';
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('ready')) child.kill('SIGTERM');
      });
      child.on('close', (code) => done({ stdout, code }));
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
    });
    expect(output.stdout).toBe('ready\n');
  });

  it('the API logs why its boot failed, as JSON with the error name, message and code', async () => {
    const result = await copy.run('apps/api/src/main.js', [], {
      XRAY_LOG_FORMAT: 'json',
      XRAY_LOG_LEVEL: 'info',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/xray_unreachable',
    });
    expect(result.code).not.toBe(0);
    const lines = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const failure = lines.find((l) => l.level === 'error');
    expect(failure).toMatchObject({
      msg: expect.stringContaining('ECONNREFUSED'),
      error: { name: expect.any(String), message: expect.stringContaining('ECONNREFUSED'), code: 'ECONNREFUSED' },
    });
    // No stack trace at the info level.
    expect(result.stdout).not.toMatch(/\n\s+at /);
  });
});
