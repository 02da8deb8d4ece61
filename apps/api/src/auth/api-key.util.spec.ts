import { generateApiKey, hashApiKey, isWellFormedApiKey, secretsEqual } from './api-key.util.js';

describe('API keys', () => {
  it('have the xr_ prefix, 32 random base62 characters and a checksum', () => {
    const { key, prefix, hash } = generateApiKey();
    expect(key).toMatch(/^xr_[0-9A-Za-z]{38}$/);
    expect(key.startsWith(prefix)).toBe(true);
    expect(prefix.length).toBeLessThan(key.length / 2);
    expect(hash).toBe(hashApiKey(key));
    expect(isWellFormedApiKey(key)).toBe(true);
  });

  it('are unique', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().key));
    expect(keys.size).toBe(1000);
  });

  it('reject any single-character typo or truncation by checksum, without a lookup', () => {
    const { key } = generateApiKey();
    let caught = 0;
    let tried = 0;
    for (let i = 3; i < key.length; i++) {
      const typo = key.slice(0, i) + (key[i] === 'x' ? 'y' : 'x') + key.slice(i + 1);
      tried++;
      if (!isWellFormedApiKey(typo)) caught++;
    }
    expect(caught).toBe(tried);
    expect(isWellFormedApiKey(key.slice(0, -1))).toBe(false);
    expect(isWellFormedApiKey(`${key}0`)).toBe(false);
    expect(isWellFormedApiKey(`xx_${key.slice(3)}`)).toBe(false);
  });

  it('compare secrets of any length', () => {
    expect(secretsEqual('a'.repeat(40), 'a'.repeat(40))).toBe(true);
    expect(secretsEqual('a'.repeat(40), 'a'.repeat(39))).toBe(false);
    expect(secretsEqual('', 'x')).toBe(false);
  });
});
