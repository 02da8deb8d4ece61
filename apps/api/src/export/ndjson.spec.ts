import { AppError } from '../common/app-error.js';
import { ndjsonLines } from './ndjson.js';

async function lines(chunks: (string | Buffer)[], maxBytes = Infinity, maxLineBytes = 1000): Promise<string[]> {
  const out: string[] = [];
  async function* stream() {
    yield* chunks;
  }
  for await (const line of ndjsonLines(stream(), { maxBytes, maxLineBytes })) out.push(line);
  return out;
}

describe('ndjsonLines', () => {
  const euro = Buffer.from('{"a":"€"}\n');

  it.each([
    ['whole lines', ['{"a":1}\n{"b":2}\n'], ['{"a":1}', '{"b":2}']],
    ['a line split across chunks', ['{"a"', ':1}\n{"b"', ':2}\n'], ['{"a":1}', '{"b":2}']],
    ['a last line without a newline', ['{"a":1}\n{"b":2}'], ['{"a":1}', '{"b":2}']],
    ['CRLF line ends', ['{"a":1}\r\n{"b":2}\r\n'], ['{"a":1}', '{"b":2}']],
    ['empty lines kept for the reader to skip', ['\n{"a":1}\n\n'], ['', '{"a":1}', '']],
    ['a multi-byte character split between chunks', [euro.subarray(0, 7), euro.subarray(7)], ['{"a":"€"}']],
  ])('splits %s', async (_name, chunks, expected) => {
    expect(await lines(chunks as (string | Buffer)[])).toEqual(expected);
  });

  it('refuses a body past its limit, and a line past its own, with a 413', async () => {
    const refused = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' } satisfies Partial<AppError>);
    await refused(lines(['{"a":1}\n', '{"b":2}\n'], 10));
    await refused(lines(['{"a":"', 'x'.repeat(50), '"}\n'], Infinity, 20));
    expect(await lines(['{"a":1}\n'], 8)).toEqual(['{"a":1}']);
  });
});
