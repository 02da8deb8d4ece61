/**
 * The benchmark suite.
 *
 *   npm run bench                      every benchmark
 *   npm run bench -- queries           one of them
 *   npm run bench -- --smoke           every benchmark at tiny sizes (run by npm test)
 *
 * See bench/RESULTS.md for the latest figures and the machine they came from.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { benchQueries } from './queries.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      smoke: { type: 'boolean', default: false },
      project: { type: 'string' },
      rounds: { type: 'string' },
      plans: { type: 'boolean', default: false },
    },
  });
  const selected = positionals.length ? positionals : ['queries'];
  for (const name of selected) {
    console.log(`\n# ${name}${values.smoke ? ' (smoke)' : ''}`);
    switch (name) {
      case 'queries': {
        const url = process.env.DATABASE_URL;
        if (!url) throw new Error('The queries benchmark needs DATABASE_URL pointing at a seeded database (npm run seed)');
        await benchQueries({ url, project: values.project, rounds: Number(values.rounds ?? (values.smoke ? 3 : 40)), plans: values.plans });
        break;
      }
      default:
        throw new Error(`Unknown benchmark "${name}"`);
    }
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
