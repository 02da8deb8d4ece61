/**
 * Baseline HTTP servers for the HTTP-overhead benchmark, with nothing but node:http:
 * - `bare`: answers each path with fixed bytes (the bytes the API answered), no work at all;
 * - `pg`: answers GET /v1/runs/:id with the same row and step rows read by plain `pg`
 *   queries and JSON.stringify, and /health after `SELECT 1`.
 * Run as a child process (`node baseline-server.js <config.json>`) or in-process.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { isMainModule } from '../../apps/api/src/common/main-module.js';

export interface BaselineConfig {
  kind: 'bare' | 'pg';
  port: number;
  /** bare: the exact body per path. */
  bodies?: Record<string, string>;
  /** pg: where the data is, and the project the row belongs to. */
  databaseUrl?: string;
  projectId?: string;
  poolSize?: number;
}

const RUN_SQL = `SELECT id, pipeline, pipeline_version, status, input, output, error, metadata, tags, started_at, ended_at, duration_ms, created_at, updated_at
                 FROM runs WHERE id = $1 AND project_id = $2`;
const STEPS_SQL = `SELECT id, run_id, parent_step_id, name, type, position, status, input, output, error, reasoning, metadata, started_at, ended_at,
                          duration_ms, candidates_in, candidates_out, elimination_ratio, stored_in
                   FROM steps WHERE run_id = $1 AND project_id = $2 ORDER BY position, started_at, id`;

export async function startBaseline(config: BaselineConfig): Promise<{ close(): Promise<void> }> {
  let server: Server;
  let pool: pg.Pool | undefined;
  if (config.kind === 'bare') {
    const bodies = new Map(Object.entries(config.bodies ?? {}).map(([path, body]) => [path, Buffer.from(body)]));
    server = createServer((req, res) => {
      const body = bodies.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    });
  } else {
    pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolSize ?? 10 });
    const p = pool;
    server = createServer((req, res) => {
      const send = (status: number, value: unknown) => {
        const body = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const url = req.url ?? '';
      if (url === '/health') {
        p.query('SELECT 1').then(
          () => send(200, { status: 'ok', database: 'up' }),
          () => send(503, { status: 'unavailable', database: 'down' }),
        );
        return;
      }
      const m = /^\/v1\/runs\/([0-9a-f-]{36})$/.exec(url);
      if (!m) return send(404, {});
      Promise.all([p.query(RUN_SQL, [m[1], config.projectId]), p.query(STEPS_SQL, [m[1], config.projectId])]).then(
        ([run, steps]) => (run.rows[0] ? send(200, { ...run.rows[0], steps: steps.rows }) : send(404, {})),
        () => send(500, {}),
      );
    });
  }
  await new Promise<void>((resolve) => server.listen(config.port, '127.0.0.1', resolve));
  return {
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool?.end();
    },
  };
}

/** Plain pg, no HTTP: how many times per second the rows behind GET /v1/runs/:id can be read. */
export async function pgQueriesPerSecond(databaseUrl: string, projectId: string, runId: string, concurrency: number, ms: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  try {
    let done = 0;
    const end = performance.now() + ms;
    const worker = async () => {
      while (performance.now() < end) {
        await Promise.all([pool.query(RUN_SQL, [runId, projectId]), pool.query(STEPS_SQL, [runId, projectId])]);
        done++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return done / ((performance.now() - started) / 1000);
  } finally {
    await pool.end();
  }
}

if (isMainModule(import.meta.url)) {
  const config = JSON.parse(readFileSync(process.argv[2], 'utf8')) as BaselineConfig;
  startBaseline(config).then(
    () => process.stdout.write('ready\n'),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
  process.on('SIGTERM', () => process.exit(0));
}
