/**
 * Retention at scale, on a seeded database it changes for good (it deletes data: point it at a
 * copy). Prints each table's disk use (pg_total_relation_size, partitions summed), the rows
 * inside and outside the window, and every query's p50/p95 (bench/queries.ts), before and after
 * one retention round of XRAY_RETENTION_DAYS=--days, and how long that round took.
 *
 *   npm run seed -- --runs 100000 --days 90 --project big
 *   DATABASE_URL=… npm run bench:retention -- --days 30 --project big [--rounds 20]
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { AppModule } from '../apps/api/src/app.module.js';
import { addDays, dayOf } from '../apps/api/src/database/partitions.js';
import { Retention } from '../apps/api/src/maintenance/retention.js';
import { benchQueries, type QueryFigure } from './queries.js';
import { printTable } from './lib/stats.js';

const TABLES = [
  'runs',
  'steps',
  'candidates',
  'ingest_events',
  'step_stats_hourly',
  'step_durations_hourly',
  'reason_counts_hourly',
  'run_stats_hourly',
  'step_stats_daily',
  'step_durations_daily',
  'reason_counts_daily',
  'run_stats_daily',
];

async function sizes(client: pg.Client): Promise<Map<string, number>> {
  const { rows } = await client.query<{ table: string; bytes: string }>(
    `SELECT t AS table, pg_total_relation_size(t::regclass) + coalesce((
       SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = t::regclass), 0) AS bytes
     FROM unnest($1::text[]) AS t`,
    [TABLES],
  );
  return new Map(rows.map((r) => [r.table, Number(r.bytes)]));
}

async function counts(client: pg.Client, keptFrom: Date): Promise<Record<string, number>> {
  const { rows } = await client.query(
    `SELECT (SELECT count(*) FROM runs WHERE started_at >= $1)::int AS runs_in,
            (SELECT count(*) FROM runs WHERE started_at < $1)::int AS runs_out,
            (SELECT count(*) FROM steps WHERE run_started_at >= $1)::int AS steps_in,
            (SELECT count(*) FROM steps WHERE run_started_at < $1)::int AS steps_out,
            (SELECT count(*) FROM candidates WHERE run_started_at >= $1)::int AS candidates_in,
            (SELECT count(*) FROM candidates WHERE run_started_at < $1)::int AS candidates_out,
            (SELECT coalesce(sum(count), 0) FROM run_stats_daily WHERE day >= $1)::int AS rollup_runs_in,
            (SELECT coalesce(sum(count), 0) FROM run_stats_daily WHERE day < $1)::int AS rollup_runs_out`,
    [keptFrom],
  );
  return rows[0];
}

const mib = (bytes: number) => (bytes / 1_048_576).toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { days: { type: 'string', default: '30' }, project: { type: 'string' }, rounds: { type: 'string', default: '20' } },
  });
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('Set DATABASE_URL to a seeded database (a copy: retention deletes its old data)');
  const days = Number(values.days);
  const rounds = Number(values.rounds);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const keptFrom = addDays(dayOf(Date.now()), -days);
  try {
    console.log(`Retention ${days} days: keeps runs started from ${keptFrom.toISOString()}`);
    const sizesBefore = await sizes(client);
    const countsBefore = await counts(client, keptFrom);
    console.log('\n## queries before');
    const before = await benchQueries({ url, project: values.project, rounds, plans: false });

    process.env.XRAY_RETENTION_DAYS = String(days);
    process.env.XRAY_SWEEP_INTERVAL = '0';
    process.env.XRAY_LOG_LEVEL = 'info';
    const app = await NestFactory.createApplicationContext(AppModule, { logger: ['log', 'warn', 'error'] });
    const started = performance.now();
    const report = await app.get(Retention).apply();
    const seconds = (performance.now() - started) / 1000;
    await app.close();
    console.log(
      `\nRetention round: ${seconds.toFixed(1)} s (${report.partitionsDropped} partitions dropped, ${report.runsDeleted} runs deleted, ${report.ingestPartitionsDropped} ingest-id partitions)`,
    );

    await client.query('VACUUM ANALYZE runs');
    const sizesAfter = await sizes(client);
    const countsAfter = await counts(client, keptFrom);
    console.log('\n## queries after');
    const after = await benchQueries({ url, project: values.project, rounds, plans: false });

    console.log('\n## disk (MiB, pg_total_relation_size with partitions)');
    printTable(
      console.log,
      ['table', 'before', 'after'],
      TABLES.map((t) => [t, mib(sizesBefore.get(t)!), mib(sizesAfter.get(t)!)]),
    );
    console.log('\n## rows inside / outside the window');
    printTable(
      console.log,
      ['count', 'before', 'after'],
      Object.keys(countsBefore).map((k) => [k, String(countsBefore[k]), String(countsAfter[k])]),
    );
    const lost = ['runs_in', 'steps_in', 'candidates_in', 'rollup_runs_in'].filter((k) => countsAfter[k] !== countsBefore[k]);
    const left = ['runs_out', 'steps_out', 'candidates_out', 'rollup_runs_out'].filter((k) => countsAfter[k] !== 0);
    console.log(lost.length ? `LOST inside the window: ${lost.join(', ')}` : 'Nothing inside the window was lost.');
    console.log(left.length ? `LEFT outside the window: ${left.join(', ')}` : 'Nothing outside the window remains.');
    console.log('\n## query p95 (ms)');
    const byName = (figures: QueryFigure[]) => new Map(figures.map((f) => [f.name, f]));
    const a = byName(after);
    printTable(
      console.log,
      ['query', 'p95 before', 'p95 after'],
      before.map((f) => [f.name, f.p95.toFixed(1), a.get(f.name)?.p95.toFixed(1) ?? '-']),
    );
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
