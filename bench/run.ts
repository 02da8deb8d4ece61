/**
 * The benchmark suite.
 *
 *   npm run bench                      every benchmark
 *   npm run bench -- candidates        one of them (candidates, ingest, http, queries, memory, sdk, dashboard, scores, otlp)
 *   npm run bench -- --smoke           every benchmark at tiny sizes (npm test runs this in-process)
 *
 * See bench/RESULTS.md for the latest figures and the machine they came from.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { adminUrl } from './lib/database.js';
import { describeMachine, formatMachine } from './lib/machine.js';
import type { ApiMode } from './lib/api.js';
import { runSuite, SUITE } from './suite.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      smoke: { type: 'boolean', default: false },
      project: { type: 'string' },
      rounds: { type: 'string' },
      plans: { type: 'boolean', default: false },
      inline: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
    },
  });
  const unknown = positionals.filter((p) => !SUITE.includes(p as (typeof SUITE)[number]));
  if (unknown.length) throw new Error(`Unknown benchmark "${unknown[0]}"; choose from ${SUITE.join(', ')}`);
  const admin = adminUrl();
  const started = Date.now();
  console.log(`Machine: ${formatMachine(await describeMachine(admin))}`);
  await runSuite({
    names: positionals.length ? (positionals as (typeof SUITE)[number][]) : [...SUITE],
    ctx: {
      smoke: values.smoke,
      mode: (values.inline ? 'inline' : 'process') as ApiMode,
      adminUrl: admin,
      profile: values.profile,
      rounds: values.rounds === undefined ? undefined : Number(values.rounds),
      log: console.log,
    },
    queries: { project: values.project, plans: values.plans, explicit: positionals.includes('queries') },
  });
  console.log(`\nSuite finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
