import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { AppError } from '../common/app-error.js';

const tooLarge = (limit: number) =>
  new AppError(413, 'PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${limit} bytes after decompression (XRAY_MAX_BODY)`);

/**
 * Reads an OTLP/HTTP request body, inflating `gzip` or `deflate`, with the size limit applied
 * to the decompressed bytes as they are produced: a small compressed body that inflates past the
 * limit is cut off there (413), never held in memory whole. The compressed bytes are capped at
 * the same limit. On failure the rest of the request is drained, not destroyed, so the answer
 * still reaches the client.
 */
export function readOtlpBody(body: Readable, contentEncoding: string | undefined, limit: number): Promise<Buffer> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  const inflate = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : undefined;
  if (!inflate && encoding !== 'identity' && encoding !== '') {
    body.resume();
    return Promise.reject(new AppError(415, 'UNSUPPORTED_ENCODING', `Content-Encoding ${encoding} is not supported; send gzip, deflate or none`));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let raw = 0;
    let out = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      body.removeListener('data', onData);
      inflate?.destroy();
      body.resume();
      reject(err);
    };
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      raw += chunk.length;
      if (raw > limit) return fail(tooLarge(limit));
      if (!inflate) return void chunks.push(chunk);
      if (!inflate.write(chunk)) {
        body.pause();
        inflate.once('drain', () => !settled && body.resume());
      }
    };
    if (inflate) {
      inflate.on('data', (chunk: Buffer) => {
        out += chunk.length;
        if (out > limit) return fail(tooLarge(limit));
        chunks.push(chunk);
      });
      inflate.on('end', done);
      inflate.on('error', () => fail(new AppError(400, 'MALFORMED_BODY', `The body is not valid ${encoding} data`)));
    }
    body.on('data', onData);
    body.on('end', () => (inflate ? !settled && inflate.end() : done()));
    body.on('error', (err: Error) => fail(err));
  });
}
