import { describe, expect, it } from 'vitest';
import { fmtDuration, fmtTokens, fmtUsage, fmtUsd, parseMetadataFilter, rangeBounds } from './format.js';

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

  it('formats token counts and costs', () => {
    expect([fmtTokens(null), fmtTokens(0), fmtTokens(9_999), fmtTokens(12_345), fmtTokens(123_456), fmtTokens(2_500_000), fmtTokens(12_000_000)]).toEqual([
      '—',
      '0',
      '9,999',
      '12.3k',
      '123k',
      '2.50M',
      '12.0M',
    ]);
    expect([fmtUsd(null), fmtUsd(0), fmtUsd(1234.5), fmtUsd(0.18), fmtUsd(0.0525), fmtUsd(0.00042), fmtUsd(0.000012)]).toEqual([
      '—',
      '$0',
      '$1,234.50',
      '$0.18',
      '$0.0525',
      '$0.00042',
      '$0.000012',
    ]);
  });

  it('writes a step’s usage on one line', () => {
    expect(fmtUsage(null)).toBe('—');
    expect(fmtUsage({ input: 1200, output: 340, total: 1540, cacheRead: 1024 })).toBe('1,200 in · 340 out (1,024 cached)');
    expect(fmtUsage({ input: null, output: null, total: 50, cacheRead: null })).toBe('50 total');
  });
});
