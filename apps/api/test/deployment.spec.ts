import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { parseDuration } from '../src/config/config.js';
import { REPO_ROOT } from './built-copy.js';
import { createTestApp } from './harness.js';

/**
 * No Docker engine runs here, so the deployment files are read and checked for the
 * properties a deployment relies on; the health check command itself is run against a live
 * server.
 */

interface Instruction {
  keyword: string;
  args: string;
}

/** The instructions of each stage of a Dockerfile (continuation lines joined, comments dropped). */
function dockerfileStages(text: string): Instruction[][] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Instruction[][] = [];
  for (const line of joined.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(trimmed)!;
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim() };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages[stages.length - 1].push(instruction);
  }
  return stages;
}

/** A compose duration (`35s`, `1m30s`, `500ms`) in milliseconds. */
function composeDuration(value: string): number {
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const consumed = value.replace(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g, (_, n: string, unit: string) => {
    total += Number(n) * units[unit];
    return '';
  });
  if (consumed !== '') throw new Error(`not a compose duration: ${value}`);
  return total;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfileStages(dockerfile);
const compose = load(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { restart?: string; healthcheck?: { test: string[] }; stop_grace_period?: string; environment?: Record<string, string> }>;
};
const api = compose.services.api;
const workspaces: string[] = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).workspaces;

/** The workspace manifests npm ci needs, e.g. `apps/api/package.json`. */
function workspaceManifests(): string[] {
  const found: string[] = [];
  for (const pattern of workspaces) {
    const [parent] = pattern.split('/*');
    const dir = join(REPO_ROOT, parent);
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      const manifest = `${parent}/${name}/package.json`;
      if (existsSync(join(REPO_ROOT, manifest))) found.push(manifest);
    }
  }
  return found;
}

/** The healthcheck command of the image (exec form) as an argv array. */
function execForm(args: string): string[] {
  const json = args.replace(/^(--\S+\s+)*CMD\s+/, '');
  return JSON.parse(json);
}

describe('Dockerfile', () => {
  it('builds and runs on a current Node LTS slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0].args).toMatch(/^node:(22|24)-bookworm-slim\b/);
  });

  it('installs dependencies in a layer of their own, before any source is copied', () => {
    const build = stages[0];
    const install = build.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(install).toBeGreaterThan(0);
    const copiedBefore = build.slice(0, install).filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
    const sources = copiedBefore.flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'))
        .slice(0, -1),
    );
    // Only manifests: an edit to any source file leaves this layer (and npm ci) cached.
    for (const source of sources) expect(source).toMatch(/(^|\/)(package\.json|package-lock\.json)$/);
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', ...workspaceManifests()]));
    // The sources come after the install.
    const later = build
      .slice(install + 1)
      .filter((i) => i.keyword === 'COPY')
      .map((i) => i.args);
    expect(later.some((a) => a.startsWith('apps '))).toBe(true);
  });

  it('runs as a non-root user who owns the embedded database folder', () => {
    const runtime = stages[stages.length - 1];
    const users = runtime.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1];
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const env = runtime
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const dataDir = /XRAY_DATA_DIR=(\S+)/.exec(env)?.[1];
    expect(dataDir).toBeDefined();
    const prepared = runtime.find((i) => i.keyword === 'RUN' && i.args.includes(`mkdir -p ${dataDir}`));
    expect(prepared).toBeDefined();
    const chowned = new RegExp(`chown -R ${user}:${user} (\\S+)`).exec(prepared!.args)?.[1];
    expect(chowned).toBeDefined();
    expect(`${dataDir}/`.startsWith(`${chowned}/`)).toBe(true);
    // The user switch comes after that folder is prepared, and before the command.
    const keywords = runtime.map((i) => i.keyword);
    expect(keywords.lastIndexOf('USER')).toBeLessThan(keywords.lastIndexOf('CMD'));
    expect(runtime.find((i) => i.keyword === 'CMD')!.args).toBe('["node", "dist/apps/api/src/main.js"]');
  });

  it('has a HEALTHCHECK on /health/ready', () => {
    const health = stages[stages.length - 1].find((i) => i.keyword === 'HEALTHCHECK');
    expect(health).toBeDefined();
    expect(health!.args).toContain('/health/ready');
  });
});

describe('docker-compose.yml', () => {
  it('restarts the API unless stopped, checks its readiness, and waits out its graceful shutdown', () => {
    expect(api.restart).toBe('unless-stopped');
    expect(api.healthcheck!.test.join(' ')).toContain('/health/ready');
    const shutdownMs = parseDuration(api.environment?.XRAY_SHUTDOWN_TIMEOUT ?? '25s')!;
    expect(composeDuration(api.stop_grace_period!)).toBeGreaterThan(shutdownMs);
  });
});

describe('the health check command (image and compose)', () => {
  it('exits 0 when the API is ready and 1 when nothing answers', async () => {
    const image = execForm(stages[stages.length - 1].find((i) => i.keyword === 'HEALTHCHECK')!.args);
    const composed = api.healthcheck!.test;
    expect(composed[0]).toBe('CMD');
    const t = await createTestApp();
    try {
      await t.app.listen(0, '127.0.0.1');
      const port = (t.app.getHttpServer().address() as { port: number }).port;
      for (const argv of [image, composed.slice(1)]) {
        expect(argv[0]).toBe('node');
        const run = (env: Record<string, string>) =>
          promisify(execFile)(process.execPath, argv.slice(1), { env: { ...process.env, NODE_OPTIONS: '', ...env } }).then(
            () => 0,
            (err: { code?: number }) => err.code ?? -1,
          );
        expect(await run({ PORT: String(port) })).toBe(0);
        expect(await run({ PORT: '1' })).toBe(1);
      }
    } finally {
      await t.close();
    }
  });
});
