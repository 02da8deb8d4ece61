import { StringDecoder } from 'node:string_decoder';
import { AppError } from '../common/app-error.js';

/** Limits on what an NDJSON reader holds: the whole body (Infinity for a local file) and one line. */
export interface NdjsonLimits {
  maxBytes: number;
  maxLineBytes: number;
}

/**
 * Splits a byte stream into lines (UTF-8, `\n` or `\r\n`), holding at most one line: a body
 * past `maxBytes` or a line past `maxLineBytes` is refused with a 413 as soon as it is seen.
 */
export async function* ndjsonLines(source: AsyncIterable<Buffer | string>, limits: NdjsonLimits): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let total = 0;
  const tooLarge = (what: string) => new AppError(413, 'PAYLOAD_TOO_LARGE', what);
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    total += bytes;
    if (total > limits.maxBytes) {
      throw tooLarge(`Request body exceeds the limit of ${limits.maxBytes} bytes (XRAY_MAX_BODY); send the file in parts, or use \`xray import\``);
    }
    const text = partial + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    const parts = text.split('\n');
    partial = parts.pop()!;
    if (Buffer.byteLength(partial) > limits.maxLineBytes) throw tooLarge(`A line exceeds ${limits.maxLineBytes} bytes`);
    for (const line of parts) yield line.endsWith('\r') ? line.slice(0, -1) : line;
  }
  partial += decoder.end();
  if (partial.length) yield partial.endsWith('\r') ? partial.slice(0, -1) : partial;
}
