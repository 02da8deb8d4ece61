import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SDK_VERSION, XrayClient } from '../src/index.js';
import { FakeIngest } from './fake-ingest.js';

const sdkRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(sdkRoot, 'package.json'), 'utf8'));

describe('the @xray-sys/sdk package', () => {
  it('reports the version of its package.json (SDK_VERSION and the user-agent of its requests)', async () => {
    // src/version.ts is written from package.json by scripts/build.mjs: after changing the
    // version, `npm run build:sdk` (or any build) brings it in line.
    expect(SDK_VERSION).toBe(pkg.version);
    const server = await new FakeIngest().start();
    const xray = new XrayClient({ baseUrl: server.url, apiKey: 'xr_test', flushIntervalMs: 10 });
    try {
      const run = await xray.startRun({ pipeline: 'competitor-selection' });
      await run.complete({ output: { selected: 'B0AAA' } });
      await xray.flush();
      expect(server.requests.length).toBeGreaterThan(0);
      for (const r of server.requests) expect(r.headers['user-agent']).toBe(`xray-sdk-js/${pkg.version}`);
    } finally {
      await xray.shutdown();
      await server.stop();
    }
  });

  it('takes that version from package.json when it is built', async () => {
    const script = pathToFileURL(join(sdkRoot, 'scripts', 'version.mjs')).href;
    const { versionSource, writeVersion } = (await import(script)) as {
      versionSource(root: string): string;
      writeVersion(root: string): boolean;
    };
    // The committed file is what the build writes for this package.json.
    expect(readFileSync(join(sdkRoot, 'src', 'version.ts'), 'utf8')).toBe(versionSource(sdkRoot));
    // A package with another version gets that version.
    const dir = mkdtempSync(join(tmpdir(), 'xray-sdk-version-'));
    try {
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version: '2.3.4-rc.1' }));
      expect(writeVersion(dir)).toBe(true);
      expect(readFileSync(join(dir, 'src', 'version.ts'), 'utf8')).toContain("export const SDK_VERSION = '2.3.4-rc.1';");
      expect(writeVersion(dir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('can be published: license, repository, public access', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(sdkRoot, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg.repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/.+\.git$/), directory: 'libs/sdk' });
    expect(pkg.publishConfig).toMatchObject({ access: 'public' });
  });
});
