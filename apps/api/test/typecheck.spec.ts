import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './built-copy.js';

/**
 * `npm run typecheck` (CI runs it before the tests) type-checks the sources and the tests of
 * every workspace: ts-jest only transpiles, so a type error in a test would otherwise pass.
 */
describe('npm run typecheck', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

  it('covers every TypeScript file of every workspace, the tests included', async () => {
    // The dashboard is a browser app with its own compiler settings (DOM, JSX): its own config.
    const configs = ['tsconfig.typecheck.json', 'apps/dashboard/tsconfig.json'];
    expect(pkg.scripts.typecheck).toBe(configs.map((c) => `tsc -p ${c}`).join(' && '));
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const listed = new Set<string>();
    for (const config of configs) {
      const { stdout } = await promisify(execFile)(process.execPath, [tsc, '-p', config, '--listFilesOnly'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
      for (const f of stdout.split('\n').filter(Boolean)) listed.add(relative(REPO_ROOT, f));
    }
    const roots = [...pkg.workspaces.map((w: string) => w.replace('/*', '')), 'bench'];
    const expected: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['node_modules', 'dist'].includes(entry.name)) walk(path);
        } else if (/\.(ts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) expected.push(path);
      }
    };
    for (const root of roots) walk(root);
    expect(expected.filter((f) => /\.spec\.ts$/.test(f)).length).toBeGreaterThan(20);
    expect(expected.filter((f) => !listed.has(f))).toEqual([]);
  });

  it('runs in CI before the tests', () => {
    const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
    const typecheck = ci.indexOf('\nnpm run typecheck');
    expect(typecheck).toBeGreaterThan(0);
    expect(typecheck).toBeLessThan(ci.indexOf('npm test'));
  });
});
