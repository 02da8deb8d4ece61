import { createdTimes, endChange } from './lifecycle.js';
import { isEnding, isKept } from './vocabulary.js';

describe('lifecycle rules', () => {
  it.each([
    [{ endedAt: '2026-11-30T09:15:04.250Z', status: 'success' }, undefined, { mode: 'set', endedAt: new Date('2026-11-30T09:15:04.250Z') }],
    [{ status: 'success' }, new Date('2026-11-30T09:15:04Z'), { mode: 'end', at: new Date('2026-11-30T09:15:04Z') }],
    [{ status: 'error' }, undefined, { mode: 'end', at: undefined }],
    [{ status: 'running' }, undefined, { mode: 'clear' }],
    [{}, undefined, { mode: 'keep' }],
  ])('an update %j (event time %s) moves the end time: %j', (update, eventTime, expected) => {
    expect(endChange(update, eventTime)).toEqual(expected);
  });

  it('a create starts at startedAt, else the event time, else now; an ending status ends it, never before its start', () => {
    const now = new Date('2026-11-30T10:00:00Z');
    expect(createdTimes({}, now)).toEqual({ startedAt: now, endedAt: null });
    expect(createdTimes({ eventTime: new Date('2026-11-30T09:00:00Z') }, now).startedAt).toEqual(new Date('2026-11-30T09:00:00Z'));
    expect(createdTimes({ status: 'success', startedAt: '2026-11-30T11:00:00Z' }, now)).toEqual({
      startedAt: new Date('2026-11-30T11:00:00Z'),
      endedAt: new Date('2026-11-30T11:00:00Z'),
    });
    expect(createdTimes({ status: 'cancelled', startedAt: '2026-11-30T08:00:00Z' }, now).endedAt).toEqual(now);
  });

  it('timed_out ends a run like the statuses a client sends; accepted and selected keep a candidate', () => {
    expect(['success', 'error', 'cancelled', 'timed_out', 'running'].map(isEnding)).toEqual([true, true, true, true, false]);
    expect(['accepted', 'selected', 'rejected'].map(isKept)).toEqual([true, true, false]);
  });
});
