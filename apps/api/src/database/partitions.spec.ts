import { addDays, dayOf, dayOfPartition, partitionName } from './partitions.js';

describe('day partitions', () => {
  it('places a time in its UTC day, whatever the time of day or the local zone', () => {
    expect(dayOf(new Date('2026-12-01T23:59:59.999Z'))).toEqual(new Date('2026-12-01T00:00:00.000Z'));
    expect(dayOf(new Date('2026-12-02T00:00:00.000Z'))).toEqual(new Date('2026-12-02T00:00:00.000Z'));
    expect(dayOf(Date.parse('2026-12-01T05:00:00+09:00'))).toEqual(new Date('2026-11-30T00:00:00.000Z'));
    expect(dayOf(new Date('1969-12-31T12:00:00.000Z'))).toEqual(new Date('1969-12-31T00:00:00.000Z'));
  });

  it('names a partition by its table and day, and reads the day back from the name', () => {
    const day = new Date('2026-02-28T00:00:00.000Z');
    expect(partitionName('candidates', day)).toBe('candidates_d20260228');
    expect(dayOfPartition(partitionName('step_stats_hourly', addDays(day, 1)))).toEqual(new Date('2026-03-01T00:00:00.000Z'));
    expect(dayOfPartition('candidates_default')).toBeNull();
  });
});
