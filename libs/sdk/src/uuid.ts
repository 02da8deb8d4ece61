/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made in one process
 * sort by creation time; within one millisecond a 12-bit counter (seeded at random each
 * millisecond) keeps them increasing. Random bytes come from a pooled crypto source, so an id
 * costs well under a microsecond.
 */
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolPos = POOL_SIZE;

function randomBytes(n: number): number {
  if (poolPos + n > POOL_SIZE) {
    globalThis.crypto.getRandomValues(pool);
    poolPos = 0;
  }
  const at = poolPos;
  poolPos += n;
  return at;
}

let lastMs = -1;
let counter = 0;

export function uuidv7(now: number = Date.now()): string {
  let ms = now;
  if (ms > lastMs) {
    lastMs = ms;
    const r = randomBytes(2);
    // Start low in the 12-bit space so many ids fit in the same millisecond.
    counter = ((pool[r] << 8) | pool[r + 1]) & 0x7ff;
  } else {
    // Same millisecond, or the clock went back: stay on the last one and count up.
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs = ms = lastMs + 1;
      counter = 0;
    }
  }
  const r = randomBytes(8);
  const b6 = 0x70 | (counter >>> 8);
  const b7 = counter & 0xff;
  const b8 = 0x80 | (pool[r] & 0x3f);
  // 48-bit milliseconds as 12 hex digits (exact in a double up to the year 10889).
  const t = ms.toString(16).padStart(12, '0');
  return (
    `${t.slice(0, 8)}-${t.slice(8, 12)}-${HEX[b6]}${HEX[b7]}-${HEX[b8]}${HEX[pool[r + 1]]}-` +
    `${HEX[pool[r + 2]]}${HEX[pool[r + 3]]}${HEX[pool[r + 4]]}${HEX[pool[r + 5]]}${HEX[pool[r + 6]]}${HEX[pool[r + 7]]}`
  );
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const isUuidV7 = (value: string): boolean => UUID_V7.test(value);

/** The creation time encoded in a UUIDv7, in Unix milliseconds. */
export const uuidv7Time = (id: string): number => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
