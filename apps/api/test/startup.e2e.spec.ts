import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { migrations } from '../src/database/migrations/index.js';
import { type BuiltCopy, buildCopy } from './built-copy.js';
import { createTestDatabase, usingRealPostgres } from './harness.js';

/**
 * What the built server prints when it starts, as a newcomer sees it: where the data is,
 * the migrations being applied, the first key, the URLs; Nest's module and route detail only
 * at the debug level.
 */
describe('start-up output', () => {
  let copy: BuiltCopy;
  let databaseEnv: Record<string, string | undefined>;
  let drop: (() => Promise<void>) | undefined;

  /** Starts dist main.js, waits for the listening line, stops it with SIGTERM; answers its output. */
  async function boot(env: Record<string, string>): Promise<string> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', PORT: '0', XRAY_SWEEP_INTERVAL: '0', NO_COLOR: '1', ...databaseEnv, ...env };
    for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
    const child = spawn(process.execPath, [join(copy.dir, 'apps/api/src/main.js')], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
    const deadline = Date.now() + 90_000;
    while (!/listening on http:\/\/localhost:\d+/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`the server did not start:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    // Nest's shutdown hooks close the app, then re-raise the signal.
    expect(await exited).toMatch(/^(SIGTERM|exit 0)$/);
    return output;
  }

  beforeAll(async () => {
    copy = await buildCopy();
    if (usingRealPostgres()) {
      const db = await createTestDatabase(process.env.DATABASE_URL!);
      drop = db.drop;
      databaseEnv = { DATABASE_URL: db.url, XRAY_DATA_DIR: undefined };
    } else {
      databaseEnv = { DATABASE_URL: undefined, XRAY_DATA_DIR: join(copy.dir, 'embedded data') };
    }
  }, 120_000);

  afterAll(async () => {
    await drop?.();
    copy?.remove();
  });

  it('first start: storage, migrations begun and ended with their count, the first key, the URLs, and nothing else at info', async () => {
    const output = await boot({ XRAY_LOG_FORMAT: 'json', XRAY_LOG_LEVEL: 'info' });
    const lines = output
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; context?: string; msg: string });
    const messages = lines.map((l) => l.msg);
    const index = (pattern: RegExp) => messages.findIndex((m) => pattern.test(m));
    const n = migrations.length;
    const storage = index(/^Storage: (PostgreSQL at .+ \(DATABASE_URL\)|embedded PostgreSQL \(PGlite\), data in .+)$/);
    const applying = index(new RegExp(`^Applying ${n} migration\\(s\\): CreateSchema\\d+, `));
    const applied = index(new RegExp(`^Applied ${n} migration\\(s\\) in [\\d.]+ s$`));
    const firstKey = index(
      /^First start: created project "default" with an admin API key\. It is shown only now; store it:\n {4}xr_\w{38}\n {2}Paste it into the dashboard at http:\/\/localhost:\d+\/ui\/ /,
    );
    const listening = index(
      /^API listening on http:\/\/localhost:\d+: the dashboard at http:\/\/localhost:\d+\/ui\/, Swagger UI at http:\/\/localhost:\d+\/docs\n {2}OpenAPI document: .+\/docs-json {3}readiness: .+\/health\/ready$/,
    );
    expect({ storage, applying, applied, firstKey, listening }).toEqual({
      storage: expect.any(Number),
      applying: storage + 1,
      applied: storage + 2,
      firstKey: expect.any(Number),
      listening: expect.any(Number),
    });
    expect(storage).toBeGreaterThanOrEqual(0);
    expect(firstKey).toBeGreaterThan(applied);
    expect(listening).toBeGreaterThan(firstKey);
    // Nest's detail (a line per module and per route) is not at the info level.
    expect(lines.filter((l) => ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(l.context ?? ''))).toEqual([]);
    expect(lines.length).toBeLessThanOrEqual(10);
  }, 180_000);

  it('later starts: the schema is up to date; the route mapping shows at the debug level only (pretty format too)', async () => {
    const info = await boot({ XRAY_LOG_FORMAT: 'pretty', XRAY_LOG_LEVEL: 'info' });
    expect(info).toContain(`Schema is up to date (${migrations.length} migrations)`);
    expect(info).toContain('API listening on http://localhost:');
    expect(info).not.toContain('First start');
    expect(info).not.toMatch(/RouterExplorer|RoutesResolver|InstanceLoader/);

    const debug = await boot({ XRAY_LOG_FORMAT: 'pretty', XRAY_LOG_LEVEL: 'debug', XRAY_METRICS: 'true' });
    expect(debug).toMatch(/DEBUG \[RouterExplorer\] Mapped \{\/v1\/runs, POST\} route/);
    expect(debug).toMatch(/DEBUG \[InstanceLoader\] AppModule dependencies initialized/);
    expect(debug).toMatch(/Prometheus metrics: http:\/\/localhost:\d+\/metrics/);

    const json = await boot({ XRAY_LOG_FORMAT: 'json', XRAY_LOG_LEVEL: 'debug' });
    const routes = json
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.context === 'RouterExplorer');
    expect(routes.length).toBeGreaterThan(20);
    for (const line of routes) expect(line.level).toBe('debug');
  }, 300_000);
});
