import { isUuidV7, uuidv7, uuidv7Time } from './uuid.js';

describe('uuidv7', () => {
  it('makes RFC 9562 version-7 ids carrying the time', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const id = uuidv7(t);
    expect(isUuidV7(id)).toBe(true);
    expect(uuidv7Time(id)).toBe(t);
  });

  it('sorts in creation order, also within one millisecond, and never repeats', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every(isUuidV7)).toBe(true);
  });

  it('keeps increasing when the clock goes back', () => {
    const a = uuidv7(Date.now() + 10_000);
    const b = uuidv7(Date.now());
    expect(b > a).toBe(true);
  });
});
