/**
 * What a candidate table's shape costs a write: COPY of the `candidates` benchmark's rows (20
 * steps × 5,000 candidates) into table shapes side by side, each round in turn, on a fresh
 * database. The figures behind the table design in bench/RESULTS.md.
 *
 *   npm run build:bench && node dist/bench/candidate-shapes.js [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { copyField, makeCandidates } from './candidates.js';
import { adminUrl, createDatabase } from './lib/database.js';
import { fmtNumber, range } from './lib/report.js';
import { printTable } from './lib/stats.js';

const PAYLOAD = 'key text NOT NULL, decision text NOT NULL, score float8, rank int, reason text, evaluations jsonb, data jsonb';
const IDS = 'project_id uuid NOT NULL, run_id uuid NOT NULL, step_id uuid NOT NULL, run_started_at timestamptz(3) NOT NULL';
const CHECK = `CHECK (decision IN ('accepted', 'rejected', 'selected'))`;
const KEY = 'PRIMARY KEY (project_id, step_id, key, run_id, run_started_at)';

interface Shape {
  name: string;
  ddl: string;
  partitioned: boolean;
  index?: string;
  ids: 'step' | 'all';
}

const SHAPES: Shape[] = [
  { name: 'bare: (step_id, key) key, own fields', ddl: `(step_id uuid NOT NULL, ${PAYLOAD}, PRIMARY KEY (step_id, key))`, partitioned: false, ids: 'step' },
  {
    name: 'xray: partitioned, 2 indexes',
    ddl: `(${IDS}, created_at timestamptz(3) NOT NULL DEFAULT now(), ${PAYLOAD}, ${CHECK}, ${KEY})`,
    partitioned: true,
    index: '(project_id, key)',
    ids: 'all',
  },
  {
    name: 'xray without the (project_id, key) index',
    ddl: `(${IDS}, created_at timestamptz(3) NOT NULL DEFAULT now(), ${PAYLOAD}, ${CHECK}, ${KEY})`,
    partitioned: true,
    ids: 'all',
  },
  { name: 'xray without created_at', ddl: `(${IDS}, ${PAYLOAD}, ${CHECK}, ${KEY})`, partitioned: true, index: '(project_id, key)', ids: 'all' },
  {
    name: 'xray, not partitioned',
    ddl: `(${IDS}, created_at timestamptz(3) NOT NULL DEFAULT now(), ${PAYLOAD}, ${CHECK}, ${KEY})`,
    partitioned: false,
    index: '(project_id, key)',
    ids: 'all',
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  const db = await createDatabase(adminUrl(), 'shapes');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const [projectId, runId, startedAt] = [randomUUID(), randomUUID(), new Date().toISOString()];
    const steps = Array.from({ length: 20 }, () => randomUUID());
    const batches = steps.map((s, i) => ({ step: s, rows: makeCandidates(`k${i}`, 5000) }));
    const text = (ids: Shape['ids']) =>
      batches.map(({ step, rows }) =>
        Buffer.from(
          rows
            .map((c) =>
              [...(ids === 'all' ? [projectId, runId, step, startedAt] : [step]), c.key, c.decision, c.score, c.rank, c.reason, c.evaluations, c.data]
                .map(copyField)
                .join('\t'),
            )
            .join('\n') + '\n',
        ),
      );
    const rates = new Map<string, number[]>();
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [i, shape] of SHAPES.entries()) {
        const table = `shape_${i}`;
        await client.query(`DROP TABLE IF EXISTS ${table}`);
        await client.query(`CREATE TABLE ${table} ${shape.ddl}${shape.partitioned ? ' PARTITION BY RANGE (run_started_at)' : ''}`);
        if (shape.partitioned) await client.query(`CREATE TABLE ${table}_p PARTITION OF ${table} FOR VALUES FROM ('2000-01-01') TO ('2100-01-01')`);
        if (shape.index) await client.query(`CREATE INDEX ON ${table} ${shape.index}`);
        const chunks = text(shape.ids);
        const lead = shape.ids === 'all' ? 'project_id, run_id, step_id, run_started_at' : 'step_id';
        await client.query('CHECKPOINT');
        const started = performance.now();
        await pipeline(
          Readable.from(chunks),
          client.query(copyStreams.from(`COPY ${table} (${lead}, key, decision, score, rank, reason, evaluations, data) FROM STDIN`)),
        );
        const seconds = (performance.now() - started) / 1000;
        rates.set(shape.name, [...(rates.get(shape.name) ?? []), 100_000 / seconds]);
      }
    }
    printTable(
      console.log,
      ['COPY of 100,000 candidates into', 'rows/s median (min–max)', 'rounds'],
      SHAPES.map((s) => [
        s.name,
        range(rates.get(s.name)!),
        rates
          .get(s.name)!
          .map((r) => fmtNumber(r))
          .join(' '),
      ]),
    );
  } finally {
    await client.end();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
