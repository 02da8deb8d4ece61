/**
 * Preloaded into an API child process (`node --import <this file> main.js`) to CPU-profile it
 * on demand without touching the API: the first SIGWINCH (a signal Nest's shutdown hooks leave alone) starts the V8 sampling profiler, the
 * second stops it and writes the profile to $XRAY_BENCH_PROFILE (then `<file>.done`).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const target = process.env.XRAY_BENCH_PROFILE;
if (target) {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  let running = false;
  process.on('SIGWINCH', () => {
    void (async () => {
      if (!running) {
        running = true;
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 250 });
        await post('Profiler.start');
        writeFileSync(`${target}.started`, '');
      } else {
        running = false;
        const { profile } = (await post('Profiler.stop')) as { profile: unknown };
        writeFileSync(target, JSON.stringify(profile));
        writeFileSync(`${target}.done`, '');
      }
    })();
  });
}
