import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { validateCandidateBatch } from '../candidates/candidate-batch.validator.js';
import { CandidatesService } from '../candidates/candidates.service.js';
import { AppError, type ErrorDetail } from '../common/app-error.js';
import { checkJson } from '../common/json-limits.js';
import { validateDto } from '../common/validation.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { IngestEvent, Operation } from '../ingest/ingest-envelope.js';
import { IngestWriter } from '../ingest/ingest.writer.js';
import type { CreateRunDto, UpdateRunDto } from '../runs/runs.dto.js';
import type { CreateStepDto, UpdateStepDto } from '../steps/steps.dto.js';
import { StepsService } from '../steps/steps.service.js';
import { ExportRunDto, ExportStepDto, type ImportResultDto } from './export.dto.js';

/** Events written per transaction, and candidates: a run larger than that is written in parts. */
const FLUSH_EVENTS = 200;
const FLUSH_CANDIDATES = 5000;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/** Progress after each write, for the CLI. */
export type ImportProgress = (done: ImportResultDto) => void;

/** The keys each line type has; any other is refused, as unknown fields are everywhere. */
const LINE_KEYS: Record<string, string[]> = {
  run: ['type', 'run'],
  step: ['type', 'step'],
  candidates: ['type', 'runId', 'stepId', 'candidates'],
  'run-end': ['type', 'runId', 'steps', 'candidates', 'cursor'],
  end: ['type', 'runs', 'steps', 'candidates', 'nextCursor'],
};

const invalidLine = (line: number, message: string, details?: ErrorDetail[]) =>
  new AppError(
    400,
    'INVALID_IMPORT_LINE',
    `line ${line}: ${message}`,
    details?.map((d) => ({ ...d, field: `line ${line}: ${d.field}` })),
  );

/** Drops null fields: the writer stores a field left out as null, and a JSON null as the JSON value null. */
const present = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;

/** What is waiting to be written: events in order, with the line each came from. */
interface Pending {
  events: IngestEvent[];
  lines: number[];
  candidates: number;
  positions: { id: string; position: number }[];
  createdAt: { stepId: string; times: { key: string; createdAt: string }[] }[];
}

/**
 * Imports an NDJSON export (export.dto.ts) into a project through the ingest writer, so every
 * statement, counter and rollup is the one live ingest runs; what the writer cannot carry
 * (positions among siblings, the candidates' storage times) is set after by statements that
 * write only what differs. Event ids are hashes of the lines, so importing the same file again
 * is a replay the writer skips: nothing changes. Ids are kept, per project.
 *
 * Lines are read one at a time and written every few hundred events (one transaction each):
 * a failure stops the import at its line, and what was written before stays; importing the
 * file again completes it.
 */
@Injectable()
export class ImportService {
  constructor(
    private readonly writer: IngestWriter,
    private readonly steps: StepsService,
    private readonly candidates: CandidatesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async importLines(projectId: string, source: AsyncIterable<string>, progress?: ImportProgress): Promise<ImportResultDto> {
    const done: ImportResultDto = { runs: 0, steps: 0, candidates: 0 };
    let run: { id: string; startedAt: Date; steps: Set<string> } | undefined;
    let pending = empty();
    let ended = false;
    let lineNo = 0;
    const flush = async () => {
      if (pending.events.length === 0) return;
      await this.write(projectId, run!, pending);
      pending = empty();
      progress?.({ ...done });
    };

    for await (const text of source) {
      lineNo++;
      if (text.trim() === '') continue;
      if (ended) throw invalidLine(lineNo, 'nothing may follow the `end` line');
      const line = this.parse(text, lineNo);
      const eventId = `import:${createHash('sha256').update(text).digest('base64url')}`;
      const push = (operation: Operation, suffix = '') => {
        pending.events.push({ eventId: eventId + suffix, operation });
        pending.lines.push(lineNo);
      };
      switch (line.type) {
        case 'run': {
          await flush();
          const r = await this.validated(ExportRunDto, line.run, lineNo, 'run');
          run = { id: r.id, startedAt: new Date(r.startedAt), steps: new Set() };
          const create = present({ ...r, error: undefined, endedAt: undefined }) as CreateRunDto & { id: string };
          push({ kind: 'run-create', id: r.id, dto: create });
          const update = present({ error: r.error, endedAt: r.endedAt }) as UpdateRunDto;
          if (Object.keys(update).length) push({ kind: 'run-update', id: r.id, dto: update }, ':update');
          done.runs++;
          break;
        }
        case 'step': {
          const s = await this.validated(ExportStepDto, line.step, lineNo, 'step');
          if (!run || s.runId !== run.id) throw invalidLine(lineNo, 'a step must follow the `run` line of its run');
          if (s.parentStepId !== null && s.parentStepId !== undefined && !run.steps.has(s.parentStepId)) {
            throw invalidLine(lineNo, `the parent step ${s.parentStepId} must be on an earlier line of the run`);
          }
          run.steps.add(s.id);
          const { runId, position, error, endedAt, reportedIn, reportedOut, ...fields } = s;
          push({ kind: 'step-create', id: s.id, runId, dto: present(fields) as CreateStepDto & { id: string } });
          const update = present({ error, endedAt, candidatesIn: reportedIn, candidatesOut: reportedOut }) as UpdateStepDto;
          if (Object.keys(update).length) push({ kind: 'step-update', id: s.id, dto: update }, ':update');
          pending.positions.push({ id: s.id, position });
          done.steps++;
          break;
        }
        case 'candidates': {
          const { stepId, runId, candidates } = line as { stepId?: unknown; runId?: unknown; candidates?: unknown };
          if (!run || runId !== run.id || typeof stepId !== 'string' || !run.steps.has(stepId)) {
            throw invalidLine(lineNo, 'candidates must follow the `step` line of their step, in its run');
          }
          const { list, times } = this.readCandidates(candidates, lineNo);
          push({ kind: 'candidates-create', stepId, candidates: list });
          pending.candidates += list.length;
          pending.createdAt.push({ stepId, times });
          done.candidates += list.length;
          break;
        }
        case 'run-end':
          if (!run || line.runId !== run.id) throw invalidLine(lineNo, 'a `run-end` line must close the run before it');
          await flush();
          break;
        case 'end':
          ended = true;
          break;
      }
      if (pending.events.length >= FLUSH_EVENTS || pending.candidates >= FLUSH_CANDIDATES) await flush();
    }
    await flush();
    return done;
  }

  private parse(text: string, lineNo: number): Record<string, unknown> & { type?: unknown } {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw invalidLine(lineNo, 'not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidLine(lineNo, 'a line must be a JSON object with a `type`');
    const type = (value as { type?: unknown }).type;
    const keys = typeof type === 'string' && Object.hasOwn(LINE_KEYS, type) ? LINE_KEYS[type] : undefined;
    if (!keys) throw invalidLine(lineNo, `type must be one of: ${Object.keys(LINE_KEYS).join(', ')}`);
    const unknown = Object.keys(value).find((k) => !keys.includes(k));
    if (unknown !== undefined) throw invalidLine(lineNo, `property ${unknown} should not exist`);
    const violation = checkJson(value, { maxDepth: this.config.maxJsonDepth, maxStringLength: this.config.maxStringLength });
    if (violation) {
      const what = {
        depth: `JSON nesting exceeds ${this.config.maxJsonDepth} levels`,
        string: 'a string is too long',
        proto: '"__proto__" is not allowed as a key',
      };
      throw invalidLine(lineNo, `${what[violation.kind]} (at ${violation.path})`);
    }
    return value as Record<string, unknown>;
  }

  private async validated<T extends object>(cls: new () => T, value: unknown, lineNo: number, field: string): Promise<T> {
    const result = await validateDto(cls, value);
    if (!result.details) return result.value;
    const details = result.details.map((d) => ({ ...d, field: `${field}.${d.field}` }));
    throw invalidLine(lineNo, details.length === 1 ? `${details[0].field}: ${details[0].message}` : `${details.length} fields are invalid`, details);
  }

  private readCandidates(value: unknown, lineNo: number) {
    if (!Array.isArray(value) || value.length === 0) throw invalidLine(lineNo, 'candidates must be a non-empty array');
    const times: { key: string; createdAt: string }[] = [];
    const stripped = value.map((c: unknown, i) => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) return c;
      const { createdAt, ...rest } = c as Record<string, unknown>;
      if (typeof createdAt !== 'string' || !ISO.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
        throw invalidLine(lineNo, `candidates.${i}.createdAt must be an ISO 8601 date-time`);
      }
      times.push({ key: String(rest.key), createdAt });
      return rest;
    });
    try {
      const list = validateCandidateBatch({ candidates: stripped }, this.config.maxCandidatesPerRequest);
      if (new Set(list.map((c) => c.key)).size !== list.length) throw invalidLine(lineNo, 'candidate keys must be unique within a line');
      return { list, times };
    } catch (err) {
      if (err instanceof AppError && err.code !== 'INVALID_IMPORT_LINE') throw invalidLine(lineNo, err.message, err.details);
      throw err;
    }
  }

  /** One transaction through the writer, then the fields it cannot carry; the first failed event stops the import. */
  private async write(projectId: string, run: { id: string; startedAt: Date }, pending: Pending): Promise<void> {
    const results = await this.writer.write(projectId, pending.events);
    const failed = results.findIndex((r) => r.status >= 300);
    if (failed >= 0) {
      const { status, error } = results[failed];
      throw new AppError(
        status,
        error?.error ?? 'IMPORT_FAILED',
        `line ${pending.lines[failed]}: ${error?.message ?? 'could not be imported'}`,
        error?.details?.map((d) => ({ ...d, field: `line ${pending.lines[failed]}: ${d.field}` })),
      );
    }
    await this.steps.restorePositions(projectId, run, pending.positions);
    for (const { stepId, times } of pending.createdAt) await this.candidates.restoreCreatedAt(projectId, run, stepId, times);
  }
}

const empty = (): Pending => ({ events: [], lines: [], candidates: 0, positions: [], createdAt: [] });
