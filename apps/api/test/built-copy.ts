import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export interface BuiltCopy {
  /** The folder of the copy; its path contains spaces on purpose. */
  dir: string;
  /** Runs `node <dir>/<script> ...args` to completion (never rejects on a non-zero exit). */
  run(script: string, args: string[], env?: Record<string, string | undefined>, timeoutMs?: number): Promise<RunResult>;
  remove(): void;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Compiles the service and the bench scripts (tsconfig.bench.json) into a temporary folder
 * whose path contains a space, with the repository's node_modules linked in and the files the build
 * copies beside the code (the OTLP schema): scripts run from
 * there exactly as they would from a checkout in such a folder.
 */
export async function buildCopy(): Promise<BuiltCopy> {
  const dir = mkdtempSync(join(tmpdir(), 'xray built copy '));
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.bench.json'), '--outDir', dir, '--sourceMap', 'false'], {
    cwd: REPO_ROOT,
  });
  // Files the build copies beside the compiled code (as `npm run build` does).
  for (const asset of ['apps/api/src/otlp/otlp-trace.proto', 'apps/api/src/otlp/otlp-trace-service.proto'])
    copyFileSync(join(REPO_ROOT, asset), join(dir, asset));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return {
    dir,
    run: (script, args, env = {}, timeoutMs = 60_000) =>
      new Promise((done, fail) => {
        const childEnv: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '', ...env };
        for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
        const child = spawn(process.execPath, [join(dir, script), ...args], { cwd: dir, env: childEnv as NodeJS.ProcessEnv });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', fail);
        child.on('close', (code) => {
          clearTimeout(timer);
          done({ code, stdout, stderr });
        });
      }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
