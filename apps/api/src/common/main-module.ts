import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the script Node was started
 * with. Compares file URLs built by `pathToFileURL`, so paths with spaces or other characters
 * that URLs escape match; symlinks are resolved as Node resolves the main module.
 */
export function isMainModule(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  let path = resolve(argv1);
  try {
    path = realpathSync(path);
  } catch {
    // A path Node resolved with an extension it searched for: compare it as given.
  }
  return pathToFileURL(path).href === moduleUrl;
}
