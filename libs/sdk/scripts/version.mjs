// The version the SDK reports (SDK_VERSION, the user-agent of its requests) is the one in its
// package.json: build.mjs writes it into src/version.ts before compiling.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The text src/version.ts must hold for the package in `root`. */
export function versionSource(root) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (typeof version !== 'string' || !/^[0-9A-Za-z.+-]+$/.test(version)) throw new Error(`package.json has no usable version: ${version}`);
  return (
    '// Generated from libs/sdk/package.json by libs/sdk/scripts/build.mjs (every build and `npm pack`); do not edit.\n' +
    `export const SDK_VERSION = '${version}';\n`
  );
}

/** Writes src/version.ts when it differs; answers whether it did. */
export function writeVersion(root) {
  const file = join(root, 'src', 'version.ts');
  const wanted = versionSource(root);
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // written below
  }
  if (current === wanted) return false;
  writeFileSync(file, wanted);
  return true;
}
