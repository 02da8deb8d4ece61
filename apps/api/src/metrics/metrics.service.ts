import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, type Metric, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { RequestMetrics } from './request-metrics.js';

/** What pg's Pool tells about itself. */
interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * The service's Prometheus metrics, in a registry of its own (one per app, so test apps in
 * one process do not share counters). Always counted (an increment costs nothing worth
 * saving); served at `GET /metrics` only when XRAY_METRICS or XRAY_METRICS_TOKEN is set.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new RequestMetrics();

  private readonly ingestEvents = new Counter({
    name: 'xray_ingest_events_total',
    help: 'POST /v1/ingest events answered 200/201 (applied now or earlier), by event type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  private readonly ingestRejected = new Counter({
    name: 'xray_ingest_events_rejected_total',
    help: 'POST /v1/ingest events refused, by error code (VALIDATION_FAILED, STEP_NOT_FOUND, ...).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  private readonly candidates = new Counter({
    name: 'xray_candidates_written_total',
    help: 'Candidates written (inserted or updated), by the route that wrote them (candidates or ingest).',
    labelNames: ['via'] as const,
    registers: [this.registry],
  });

  private readonly statementTimeouts = new Counter({
    name: 'xray_db_statement_timeouts_total',
    help: 'Requests that ended with STATEMENT_TIMEOUT (a statement ran past XRAY_STATEMENT_TIMEOUT_MS).',
    registers: [this.registry],
  });

  private readonly sweeperLastRun = new Gauge({
    name: 'xray_sweeper_last_run_timestamp_seconds',
    help: 'When this process last completed a timeout sweep (Unix time; 0: not yet).',
    registers: [this.registry],
  });

  private defaultsCollected = false;

  constructor(dataSource: DataSource) {
    this.registry.registerMetric(this.requests.counter as unknown as Metric);
    this.registry.registerMetric(this.requests.histogram as unknown as Metric);
    const pool = (): PoolCounts | undefined => {
      if (!dataSource.isInitialized) return undefined;
      return (dataSource.driver as unknown as { master?: PoolCounts }).master;
    };
    const poolGauge = (name: string, help: string, read: (p: PoolCounts) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const p = pool();
          this.set(p ? read(p) : 0);
        },
      });
    poolGauge('xray_db_pool_connections', 'Connections the database pool holds (in use and idle).', (p) => p.totalCount);
    poolGauge('xray_db_pool_idle_connections', 'Idle connections in the database pool.', (p) => p.idleCount);
    poolGauge('xray_db_pool_waiting_requests', 'Queries waiting for a free pooled connection.', (p) => p.waitingCount);
  }

  /** Adds Node's process metrics (CPU, memory, event loop lag, GC); once, when /metrics is served. */
  collectProcessMetrics(): void {
    if (this.defaultsCollected) return;
    this.defaultsCollected = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts the outcome of an ingest batch: `events` as sent, `results` in the same order. */
  countIngest(events: unknown, results: readonly { status: number; error?: { error: string } }[]): void {
    const sent = Array.isArray(events) ? events : [];
    let candidates = 0;
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      const event = sent[i] as { type?: unknown; body?: { candidates?: unknown } } | undefined;
      if (result.status < 300) {
        const type = typeof event?.type === 'string' ? event.type : 'unknown';
        this.ingestEvents.inc({ type });
        if (type === 'candidates-create' && Array.isArray(event?.body?.candidates)) candidates += event.body.candidates.length;
      } else {
        this.ingestRejected.inc({ code: result.error?.error ?? `HTTP_${result.status}` });
      }
    }
    if (candidates > 0) this.candidates.inc({ via: 'ingest' }, candidates);
  }

  countCandidatesWritten(count: number): void {
    if (count > 0) this.candidates.inc({ via: 'candidates' }, count);
  }

  /** Called with the error code of every error answer. */
  countError(code: string): void {
    if (code === 'STATEMENT_TIMEOUT') this.statementTimeouts.inc();
  }

  sweeperRan(at = Date.now()): void {
    this.sweeperLastRun.set(at / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
