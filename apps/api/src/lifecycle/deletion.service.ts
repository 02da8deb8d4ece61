import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, type EntityManager } from 'typeorm';
import { badRequest, notFound } from '../common/app-error.js';
import { decodeTimeIdCursor, encodeTimeIdCursor, pageOf } from '../common/cursor.js';
import { iso } from '../common/dto-helpers.js';
import type { DeleteRunsDto, DeletionDto, DeletionListDto, ListDeletionsQueryDto } from './deletion.dto.js';
import { type DeletionLogRow, DeletionRepository, type RemovedCounts, type RunSelection } from './deletion.repository.js';

/** Who asked for a deletion: a project key (its id is logged), or the operator (CLI, retention: no key). */
export interface Requester {
  projectId: string;
  keyId: string | null;
}

/** How a chunked deletion paces itself: runs per transaction, and the pause between transactions. */
export interface Pace {
  chunk: number;
  pauseMs: number;
}

/** Bulk deletions through the API: 500 runs per transaction, no pause (each transaction is short). */
export const BULK_PACE: Pace = { chunk: 500, pauseMs: 0 };
/** Candidate rows per transaction when erasing a key. */
const ERASE_CHUNK = 5000;

type Counts = RemovedCounts & { stepsChanged: number };
const noCounts = (): Counts => ({ runs: 0, steps: 0, candidates: 0, stepsChanged: 0 });
const add = (a: Counts, b: Partial<Counts>): Counts => ({
  runs: a.runs + (b.runs ?? 0),
  steps: a.steps + (b.steps ?? 0),
  candidates: a.candidates + (b.candidates ?? 0),
  stepsChanged: a.stepsChanged + (b.stepsChanged ?? 0),
});

function toDto(r: DeletionLogRow): DeletionDto {
  return {
    id: r.id,
    kind: r.kind,
    keyId: r.key_id,
    filter: r.filter,
    counts: { ...noCounts(), ...r.counts },
    status: r.status,
    total: r.total,
    done: r.done,
    createdAt: r.created_at.toISOString(),
    finishedAt: iso(r.finished_at),
  };
}

/** A deadlock or serialization failure: the chunk is tried again (it rolled back whole). */
const retryable = (err: unknown) => ['40P01', '40001'].includes((err as { code?: string }).code ?? '');

/**
 * Deletes runs (one, by filter, past retention) and erases candidate keys, in bounded
 * transactions so ingest never waits long, and logs every deletion (deletion_log and a log line:
 * the key and the counts, never content). A bulk deletion runs in the background of the process
 * that accepted it and is followed through its log row; the server stopping marks it interrupted.
 */
@Injectable()
export class DeletionService implements OnApplicationShutdown {
  private readonly logger = new Logger('Deletion');
  private readonly jobs = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: DeletionRepository,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.jobs]);
  }

  /** Deletes one run with everything derived from it. 404 when the project has no such run. */
  async deleteRun(who: Requester, runId: string): Promise<DeletionDto> {
    const counts = await this.inTransaction(async (db) => {
      const runs = await this.repository.lockRuns(db, who.projectId, { ids: [runId] }, 1, false);
      if (runs.ids.length === 0) throw notFound('Run', runId);
      return this.repository.deleteRuns(db, who.projectId, runs, true);
    });
    return this.logged(who, 'run', { runId }, { ...counts, stepsChanged: 0 }, null, counts.runs);
  }

  /**
   * Starts deleting the runs matching the filter (at least one filter), in the background:
   * answers the deletion, whose row follows its progress (getDeletion).
   */
  async startDeletingRuns(who: Requester, dto: DeleteRunsDto): Promise<DeletionDto> {
    const { row, selection } = await this.begin(who, dto);
    const job = this.deleteInChunks(who, row.id, selection, row.total, BULK_PACE).catch((err) =>
      this.logger.error(`Bulk deletion ${row.id} failed: ${err instanceof Error ? err.message : String(err)}`),
    );
    this.jobs.add(job);
    void job.finally(() => this.jobs.delete(job));
    return toDto(row);
  }

  /** Deletes the runs matching the filter and answers when done (the operator CLI), reporting progress after each chunk. */
  async deleteRuns(who: Requester, dto: DeleteRunsDto, onProgress?: (d: DeletionDto) => void, pace: Pace = BULK_PACE): Promise<DeletionDto> {
    const { row, selection } = await this.begin(who, dto);
    onProgress?.(toDto(row));
    return this.deleteInChunks(who, row.id, selection, row.total, pace, onProgress);
  }

  /** Counts the runs a bulk deletion takes (those created by now) and writes its log row, `running`. */
  private async begin(who: Requester, dto: DeleteRunsDto): Promise<{ row: DeletionLogRow; selection: RunSelection }> {
    const { selection, filter } = this.selectionOf(dto);
    const { total, now } = await this.repository.countRuns(who.projectId, selection);
    const row = await this.repository.insertLog(this.dataSource, {
      id: randomUUID(),
      projectId: who.projectId,
      keyId: who.keyId,
      kind: 'runs',
      filter,
      counts: noCounts(),
      status: 'running',
      total,
      done: 0,
    });
    return { row, selection: { ...selection, createdUpTo: now } };
  }

  /**
   * Deletes the project's runs started more than `days` days ago, `pace.chunk` runs per
   * transaction with a pause between. Logs a `retention` deletion when it removed anything.
   */
  async deleteExpiredRuns(projectId: string, days: number, pace: Pace): Promise<Counts> {
    const before = new Date(Date.now() - days * 86_400_000);
    let counts = noCounts();
    for (;;) {
      if (this.stopping) break;
      const removed = await this.chunk(projectId, { before }, pace.chunk, false);
      if (removed.runs === 0) break;
      counts = add(counts, removed);
      if (pace.pauseMs > 0) await sleep(pace.pauseMs);
    }
    if (counts.runs > 0)
      await this.logged({ projectId, keyId: null }, 'retention', { retentionDays: days, before: before.toISOString() }, counts, null, counts.runs);
    return counts;
  }

  /**
   * Erases a candidate key everywhere in the project: first its tombstone (so no write stores it
   * again from then on), then every row with it, a bounded number per transaction, then the
   * scores of its candidates.
   */
  async eraseKey(who: Requester, key: string): Promise<DeletionDto> {
    await this.repository.insertErasedKey(this.dataSource, who.projectId, key);
    let counts = noCounts();
    for (;;) {
      const chunk = await this.inTransaction((db) => this.repository.eraseKeyChunk(db, who.projectId, key, ERASE_CHUNK));
      counts = add(counts, { candidates: chunk.candidates, stepsChanged: chunk.steps });
      if (chunk.candidates < ERASE_CHUNK) break;
    }
    await this.repository.deleteKeyScores(this.dataSource, who.projectId, key);
    const keySha256 = createHash('sha256').update(key, 'utf8').digest('hex');
    return this.logged(who, 'erasure', { keySha256 }, counts, null, counts.candidates);
  }

  async getDeletion(projectId: string, id: string): Promise<DeletionDto> {
    const row = await this.repository.findLog(projectId, id);
    if (!row) throw notFound('Deletion', id);
    return toDto(row);
  }

  async listDeletions(projectId: string, q: ListDeletionsQueryDto): Promise<DeletionListDto> {
    const limit = q.limit ?? 50;
    const rows = await this.repository.listLogs(projectId, limit + 1, q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor));
    return pageOf(rows, limit, toDto, (r) => encodeTimeIdCursor(r.created_at, r.id));
  }

  private selectionOf(dto: DeleteRunsDto): { selection: RunSelection; filter: Record<string, string> } {
    const filter: Record<string, string> = {};
    if (dto.pipeline !== undefined) filter.pipeline = dto.pipeline;
    if (dto.status !== undefined) filter.status = dto.status;
    if (dto.before !== undefined) filter.before = new Date(dto.before).toISOString();
    if (Object.keys(filter).length === 0) {
      throw badRequest('FILTER_REQUIRED', 'Name at least one filter (pipeline, status or before): deleting every run is not offered', [
        { field: 'pipeline', message: 'pipeline, status or before is required' },
      ]);
    }
    return { selection: { pipeline: dto.pipeline, status: dto.status, before: dto.before === undefined ? undefined : new Date(dto.before) }, filter };
  }

  /**
   * One transaction: lock up to `limit` runs of the selection (skipping runs others hold) and
   * delete them, leaving tombstones unless retention deletes them: a run older than the
   * retention that comes back (a late replay) is deleted again by the next round, and
   * tombstones for every expired run would grow without end.
   */
  private chunk(projectId: string, selection: RunSelection, limit: number, tombstones = true): Promise<RemovedCounts> {
    return this.inTransaction(async (db) => {
      const runs = await this.repository.lockRuns(db, projectId, selection, limit, true);
      return this.repository.deleteRuns(db, projectId, runs, tombstones);
    });
  }

  private async deleteInChunks(
    who: Requester,
    id: string,
    selection: RunSelection,
    total: number | null,
    pace: Pace,
    onProgress?: (d: DeletionDto) => void,
  ): Promise<DeletionDto> {
    let counts = noCounts();
    let status = 'done';
    try {
      for (;;) {
        if (this.stopping) {
          status = 'interrupted';
          break;
        }
        const removed = await this.chunk(who.projectId, selection, pace.chunk);
        if (removed.runs === 0) break;
        counts = add(counts, removed);
        await this.repository.updateLog(this.dataSource, id, { counts, done: counts.runs, status: 'running' });
        onProgress?.(await this.getDeletion(who.projectId, id));
        if (pace.pauseMs > 0) await sleep(pace.pauseMs);
      }
    } catch (err) {
      status = 'failed';
      await this.repository.updateLog(this.dataSource, id, { counts, done: counts.runs, status }).catch(() => undefined);
      throw err;
    } finally {
      if (status !== 'failed') await this.repository.updateLog(this.dataSource, id, { counts, done: counts.runs, status });
      this.logLine(who, id, 'runs', counts, status, total);
    }
    return this.getDeletion(who.projectId, id);
  }

  /** Writes the deletion_log row of a deletion that is over, and its log line. */
  private async logged(who: Requester, kind: string, filter: object, counts: Counts, total: number | null, done: number): Promise<DeletionDto> {
    const row = await this.repository.insertLog(this.dataSource, {
      id: randomUUID(),
      projectId: who.projectId,
      keyId: who.keyId,
      kind,
      filter,
      counts,
      status: 'done',
      total,
      done,
    });
    this.logLine(who, row.id, kind, counts, 'done', total);
    return toDto(row);
  }

  private logLine(who: Requester, id: string, kind: string, counts: Counts, status: string, total: number | null): void {
    this.logger.log({ event: 'deletion', id, kind, status, projectId: who.projectId, keyId: who.keyId, total, counts });
  }

  /** Runs `work` in a transaction, once more if it was chosen as a deadlock victim. */
  private async inTransaction<T>(work: (db: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction(work);
    } catch (err) {
      if (!retryable(err)) throw err;
      return this.dataSource.transaction(work);
    }
  }
}

/**
 * At the server's start, bulk deletions left `running` by a process that stopped are marked
 * `interrupted`. A provider of its own, so the operator CLI (which uses DeletionService) never
 * marks a running server's deletions. With several API processes, a starting one also marks the
 * others' running deletions; those go on and their row ends `done` all the same.
 */
@Injectable()
export class InterruptedDeletions implements OnApplicationBootstrap {
  private readonly logger = new Logger('Deletion');

  constructor(private readonly repository: DeletionRepository) {}

  async onApplicationBootstrap(): Promise<void> {
    const interrupted = await this.repository.markRunningInterrupted();
    if (interrupted > 0) this.logger.warn(`${interrupted} bulk deletion(s) were interrupted by a restart; ask again to finish them`);
  }
}
