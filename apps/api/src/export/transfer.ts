import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExportEndLineDto, ExportLine, ImportResultDto } from './export.dto.js';
import { ndjsonLines } from './ndjson.js';

/**
 * Export files on disk, for the CLI: written from the export service (against the database) or
 * from a server's GET /v1/export, and read into the import service or a server's POST
 * /v1/import. Everything streams: memory holds a line (or one part of an upload) at a time.
 */

/** Counts so far, reported to the user. */
export type Progress = (done: ImportResultDto, final?: boolean) => void;

/** The longest line a file may hold (a line carries at most one run, step or 1,000 candidates). */
const MAX_LINE_BYTES = 256 * 1024 * 1024;

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function closed(out: WriteStream): Promise<void> {
  out.end();
  await once(out, 'close');
}

const tally = (done: ImportResultDto, line: { type: string; steps?: number; candidates?: number }) => {
  if (line.type !== 'run-end') return;
  done.runs++;
  done.steps += line.steps ?? 0;
  done.candidates += line.candidates ?? 0;
};

/** Writes the lines of the export service to a file. */
export async function exportToFile(lines: AsyncIterable<ExportLine>, file: string, progress: Progress): Promise<ImportResultDto> {
  const out = createWriteStream(file);
  const done: ImportResultDto = { runs: 0, steps: 0, candidates: 0 };
  try {
    for await (const line of lines) {
      await write(out, `${JSON.stringify(line)}\n`);
      tally(done, line as { type: string });
      if (line.type === 'run-end') progress(done);
    }
  } finally {
    await closed(out);
  }
  progress(done, true);
  return done;
}

export interface Remote {
  url: string;
  key: string;
}

class RemoteError extends Error {}

async function failure(res: Response): Promise<RemoteError> {
  const body = (await res.json().catch(() => undefined)) as { message?: string } | undefined;
  return new RemoteError(`${res.status} ${body?.message ?? res.statusText}`);
}

/**
 * Saves a server's export to a file. A connection lost midway is taken up again from the last
 * complete run (the file is cut back to it and the rest asked for with its cursor), up to
 * `retries` times; the file's `end` line then counts the whole export.
 */
export async function exportOverHttp(
  remote: Remote,
  query: Record<string, string | undefined>,
  file: string,
  progress: Progress,
  retries = 5,
): Promise<ImportResultDto> {
  const done: ImportResultDto = { runs: 0, steps: 0, candidates: 0 };
  let kept = 0;
  let cursor = query.cursor;
  await writeFile(file, '');
  for (let attempt = 0; ; attempt++) {
    const params = new URLSearchParams(Object.entries({ ...query, cursor }).filter((e): e is [string, string] => e[1] !== undefined));
    const out = createWriteStream(file, { flags: 'r+', start: kept });
    let end: ExportEndLineDto | undefined;
    try {
      const res = await fetch(new URL(`/v1/export?${params}`, remote.url), { headers: { Authorization: `Bearer ${remote.key}` } });
      if (!res.ok || !res.body) throw await failure(res);
      let written = kept;
      for await (const text of ndjsonLines(res.body as unknown as AsyncIterable<Buffer>, { maxBytes: Infinity, maxLineBytes: MAX_LINE_BYTES })) {
        const type = /^\{"type":"([a-z-]+)"/.exec(text)?.[1];
        if (type === 'end') {
          end = JSON.parse(text) as ExportEndLineDto;
          break;
        }
        await write(out, `${text}\n`);
        written += Buffer.byteLength(text) + 1;
        if (type === 'run-end') {
          const line = JSON.parse(text) as { type: string; steps: number; candidates: number; cursor: string };
          tally(done, line);
          kept = written;
          cursor = line.cursor;
          progress(done);
        }
      }
      if (!end) throw new Error('the export was cut short');
      await write(out, `${JSON.stringify({ ...end, ...done })}\n`);
      await closed(out);
      progress(done, true);
      return done;
    } catch (err) {
      if (!out.closed) await closed(out);
      if (err instanceof RemoteError || attempt >= retries) throw err;
      // Back to the last complete run; the next answer continues from there.
      await truncate(file, kept);
      await sleep(1000 * (attempt + 1));
    }
  }
}

/** Reads an export file line by line into `importLines` (the import service, against the database). */
export function importFromFile(
  file: string,
  importLines: (lines: AsyncIterable<string>, progress: (done: ImportResultDto) => void) => Promise<ImportResultDto>,
  progress: Progress,
): Promise<ImportResultDto> {
  const lines = ndjsonLines(createReadStream(file), { maxBytes: Infinity, maxLineBytes: MAX_LINE_BYTES });
  return importLines(lines, (done) => progress(done)).then((done) => {
    progress(done, true);
    return done;
  });
}

/**
 * Uploads an export file to a server's POST /v1/import in parts of about `partBytes` (under the
 * server's body limit), each starting at a `run` line: a run is never split.
 */
export async function importOverHttp(remote: Remote, file: string, partBytes: number, progress: Progress): Promise<ImportResultDto> {
  const done: ImportResultDto = { runs: 0, steps: 0, candidates: 0 };
  let part: string[] = [];
  let size = 0;
  const send = async () => {
    if (part.length === 0) return;
    const res = await fetch(new URL('/v1/import', remote.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${remote.key}`, 'Content-Type': 'application/x-ndjson' },
      body: part.join(''),
    });
    if (!res.ok) throw await failure(res);
    const counts = (await res.json()) as ImportResultDto;
    done.runs += counts.runs;
    done.steps += counts.steps;
    done.candidates += counts.candidates;
    part = [];
    size = 0;
    progress(done);
  };
  for await (const text of ndjsonLines(createReadStream(file), { maxBytes: Infinity, maxLineBytes: MAX_LINE_BYTES })) {
    const bytes = Buffer.byteLength(text) + 1;
    if (/^\{"type":"run"/.test(text) && size + bytes > partBytes) await send();
    part.push(`${text}\n`);
    size += bytes;
  }
  await send();
  progress(done, true);
  return done;
}
