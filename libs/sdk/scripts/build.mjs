#!/usr/bin/env node
// Builds @xray-sys/sdk into dist/esm (ES modules) and dist/cjs (CommonJS), each with .d.ts.
// Run by the root `npm run build`, and by `npm pack` (prepack) in libs/sdk.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeVersion } from './version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const compile = (config, ...flags) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', join(root, config), ...flags], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p ${config} failed (exit ${code})`))));
  });

writeVersion(root);
rmSync(join(root, 'dist'), { recursive: true, force: true });
try {
  // The ES module half is type-checked and emits the declarations; the CommonJS half is the
  // same code transpiled only (--noCheck), at the same time, and shares those declarations
  // (a .d.ts reads the same for both module kinds; the package.json beside it decides).
  await Promise.all([compile('tsconfig.build.json'), compile('tsconfig.cjs.json', '--noCheck', '--declaration', 'false')]);
  cpSync(join(root, 'dist', 'esm'), join(root, 'dist', 'cjs'), { recursive: true, filter: (src) => !/\.js$/.test(src) });
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
// The package is "type": "module"; this marks the CommonJS half as such.
mkdirSync(join(root, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
