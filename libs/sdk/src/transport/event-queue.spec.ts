import { EventQueue, type DropTier, type EventKind, type QueueItem } from './event-queue.js';

const item = (seq: number, kind: EventKind, tier: DropTier = kind === 'candidates' ? 0 : 2, bytes = 10): QueueItem => ({
  seq,
  kind,
  tier,
  bytes,
  notBefore: 0,
});
const seqs = (items: QueueItem[]) => items.map((i) => i.seq);

describe('EventQueue', () => {
  it('drops candidate batches first, then notes, then the oldest structure, oldest first within a tier', () => {
    const q = new EventQueue<QueueItem>();
    // run, step, candidates, note, step, candidates, candidates
    const kinds: [EventKind, DropTier][] = [
      ['runs', 2],
      ['steps', 2],
      ['candidates', 0],
      ['steps', 1],
      ['steps', 2],
      ['candidates', 0],
      ['candidates', 0],
    ];
    kinds.forEach(([k, t], i) => q.push(item(i + 1, k, t)));
    const drops: [number, number[]][] = [
      [6, [3]],
      [4, [6, 7]],
      [3, [4]],
      [1, [1, 2]],
    ];
    for (const [bound, expected] of drops) expect(seqs(q.enforceBounds(bound, Infinity))).toEqual(expected);
    expect(q.length).toBe(1);
  });

  it('prefers the older of a parked and a ready candidate batch, and bounds bytes too', () => {
    const q = new EventQueue<QueueItem>();
    const parked = item(1, 'candidates', 0, 100);
    q.push(item(2, 'steps'));
    q.push(item(3, 'candidates', 0, 100));
    q.park(parked, Date.now() + 60_000);
    expect(seqs(q.enforceBounds(10, 150))).toEqual([1]);
    expect(q.bytes).toBe(110);
  });

  it('takes batches from the front, puts a retried batch back in order, and lets parked events rejoin at the end when due', () => {
    const q = new EventQueue<QueueItem>();
    for (let i = 1; i <= 5; i++) q.push(item(i, 'steps'));
    const first = q.takeBatch(0, 3, Infinity, 0, 0);
    expect(seqs(first)).toEqual([1, 2, 3]);
    q.putBack(first);
    const later = item(9, 'steps');
    q.park(later, 1_000);
    expect(q.nextParkedAt()).toBe(1_000);
    expect(seqs(q.takeBatch(500, 10, Infinity, 0, 0))).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(q.takeBatch(1_000, 10, Infinity, 0, 0))).toEqual([9]);
    expect(q.length).toBe(0);
  });

  it('cuts a batch by bytes but always takes the first event, and removes an event from anywhere', () => {
    const q = new EventQueue<QueueItem>();
    const big = item(1, 'candidates', 0, 500);
    q.push(big);
    const middle = item(2, 'steps');
    q.push(middle);
    q.push(item(3, 'steps'));
    expect(q.remove(middle)).toBe(true);
    expect(q.remove(middle)).toBe(false);
    expect(seqs(q.takeBatch(0, 10, 100, 12, 1))).toEqual([1]);
    expect(seqs(q.takeBatch(0, 10, 100, 12, 1))).toEqual([3]);
  });
});
