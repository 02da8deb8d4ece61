import { describe, expect, it } from 'vitest';
import { fmtDuration, parseMetadataFilter, rangeBounds } from './format.js';

describe('formatting and filters', () => {
  it('formats durations', () => {
    expect(fmtDuration(null)).toBe('—');
    expect(fmtDuration(12.4)).toBe('12 ms');
    expect(fmtDuration(1500)).toBe('1.50 s');
    expect(fmtDuration(125_000)).toBe('2 m 5 s');
  });

  it('turns a range preset into a from bound, and custom inputs into ISO bounds', () => {
    const now = Date.parse('2026-01-08T00:00:00Z');
    expect(rangeBounds('7d', undefined, undefined, now)).toEqual({ from: '2026-01-01T00:00:00.000Z' });
    expect(rangeBounds(undefined, '2026-01-01T00:00:00Z', 'garbage', now)).toEqual({ from: '2026-01-01T00:00:00.000Z', to: undefined });
  });

  it('parses key=value metadata filters and ignores malformed parts', () => {
    expect(parseMetadataFilter('customer=acme, region = eu,=x,novalue')).toEqual({ customer: 'acme', region: 'eu' });
    expect(parseMetadataFilter('')).toBeUndefined();
  });
});
