import { describe, expect, it } from 'vitest';
import { describeRetention, MAX_RETENTION_DAYS, parseRetentionDays } from './retention.js';

describe('parseRetentionDays', () => {
  it.each([
    ['30', { days: 30 }],
    [' 7 ', { days: 7 }],
    ['1', { days: 1 }],
    [String(MAX_RETENTION_DAYS), { days: MAX_RETENTION_DAYS }],
    ['0', { error: `Enter from 1 to ${MAX_RETENTION_DAYS} days.` }],
    [String(MAX_RETENTION_DAYS + 1), { error: `Enter from 1 to ${MAX_RETENTION_DAYS} days.` }],
    ['', { error: 'Enter a whole number of days.' }],
    ['2.5', { error: 'Enter a whole number of days.' }],
    ['-3', { error: 'Enter a whole number of days.' }],
    ['30d', { error: 'Enter a whole number of days.' }],
  ])('reads %j as %j', (text, expected) => {
    expect(parseRetentionDays(text)).toEqual(expected);
  });
});

describe('describeRetention', () => {
  it.each([
    [null, /server’s default/],
    [1, /^Runs are deleted 1 day after they start/],
    [30, /^Runs are deleted 30 days after they start/],
  ] as const)('describes %j', (days, text) => {
    expect(describeRetention(days)).toMatch(text);
  });
});
