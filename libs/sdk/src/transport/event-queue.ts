/**
 * The bounded buffer of events waiting to be sent: the ones ready to go, in the order they
 * were recorded, and the ones parked until a retry time. Past its bounds it drops by tier,
 * oldest first within a tier: candidate batches first, then notes about them and scores, and structure
 * (run and step events) only when nothing else is left, because a dropped run or step create
 * makes everything under it an orphan.
 */

/** What an event carries, for the drop order and the per-kind counts. */
export type EventKind = 'runs' | 'steps' | 'candidates' | 'scores';

/** Drop order: tier 0 goes first, tier 2 last. */
export type DropTier = 0 | 1 | 2;
const TIERS: readonly DropTier[] = [0, 1, 2];

export interface QueueItem {
  /** Order of recording; parts of one recorded event share it. */
  readonly seq: number;
  readonly bytes: number;
  readonly kind: EventKind;
  readonly tier: DropTier;
  /** Earliest time to send it (parked events). */
  notBefore: number;
}

interface Node<T extends QueueItem> {
  readonly item: T;
  list: List<T>;
  prev?: Node<T>;
  next?: Node<T>;
  /** Neighbours among the nodes of the same drop tier in the same list. */
  dprev?: Node<T>;
  dnext?: Node<T>;
}

interface Ends<T extends QueueItem> {
  head?: Node<T>;
  tail?: Node<T>;
}

/** A doubly linked list in recording order, with a second chain per drop tier. */
class List<T extends QueueItem> {
  head?: Node<T>;
  tail?: Node<T>;
  readonly tiers: Ends<T>[] = TIERS.map(() => ({}));
  length = 0;
  bytes = 0;

  insert(node: Node<T>, atFront: boolean): void {
    node.list = this;
    if (atFront) {
      node.next = this.head;
      if (this.head) this.head.prev = node;
      else this.tail = node;
      this.head = node;
    } else {
      node.prev = this.tail;
      if (this.tail) this.tail.next = node;
      else this.head = node;
      this.tail = node;
    }
    const tier = this.tiers[node.item.tier];
    if (atFront) {
      node.dnext = tier.head;
      if (tier.head) tier.head.dprev = node;
      else tier.tail = node;
      tier.head = node;
    } else {
      node.dprev = tier.tail;
      if (tier.tail) tier.tail.dnext = node;
      else tier.head = node;
      tier.tail = node;
    }
    this.length++;
    this.bytes += node.item.bytes;
  }

  remove(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    const tier = this.tiers[node.item.tier];
    if (node.dprev) node.dprev.dnext = node.dnext;
    else tier.head = node.dnext;
    if (node.dnext) node.dnext.dprev = node.dprev;
    else tier.tail = node.dprev;
    node.prev = node.next = node.dprev = node.dnext = undefined;
    this.length--;
    this.bytes -= node.item.bytes;
  }

  *items(): Generator<T> {
    for (let n = this.head; n; n = n.next) yield n.item;
  }
}

export class EventQueue<T extends QueueItem> {
  private readonly ready = new List<T>();
  private readonly parked = new List<T>();
  private readonly nodes = new Map<T, Node<T>>();

  /** Events held (ready and parked). */
  get length(): number {
    return this.ready.length + this.parked.length;
  }

  get bytes(): number {
    return this.ready.bytes + this.parked.bytes;
  }

  get readyLength(): number {
    return this.ready.length;
  }

  get readyBytes(): number {
    return this.ready.bytes;
  }

  /** Adds events at the end of the ready line. */
  push(item: T): void {
    this.add(item, this.ready, false);
  }

  /** Puts events taken for a request back at the front, in their order (their request is retried). */
  putBack(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) this.add(items[i], this.ready, true);
  }

  /** Holds an event until `notBefore`, then it rejoins the end of the ready line. */
  park(item: T, notBefore: number): void {
    item.notBefore = notBefore;
    this.add(item, this.parked, false);
  }

  /** Takes an event out wherever it is; false when it is not held. */
  remove(item: T): boolean {
    const node = this.nodes.get(item);
    if (!node) return false;
    node.list.remove(node);
    this.nodes.delete(item);
    return true;
  }

  has(item: T): boolean {
    return this.nodes.has(item);
  }

  /** Earliest time a parked event may go (Infinity when none is parked). */
  nextParkedAt(): number {
    let at = Infinity;
    for (const e of this.parked.items()) if (e.notBefore < at) at = e.notBefore;
    return at;
  }

  /**
   * The next request's events, from the front: parked events whose time has come first rejoin
   * the end of the line; then up to `maxEvents` events whose request stays within `maxBytes`
   * (the first event always goes, however large).
   */
  takeBatch(now: number, maxEvents: number, maxBytes: number, overhead: number, separator: number): T[] {
    for (let n = this.parked.head; n;) {
      const next = n.next;
      if (n.item.notBefore <= now) {
        this.parked.remove(n);
        this.ready.insert(n, false);
      }
      n = next;
    }
    const batch: T[] = [];
    let bytes = overhead;
    while (batch.length < maxEvents && this.ready.head) {
      const next = this.ready.head.item;
      if (batch.length > 0 && bytes + next.bytes + separator > maxBytes) break;
      this.remove(next);
      batch.push(next);
      bytes += next.bytes + separator;
    }
    return batch;
  }

  /**
   * Drops events until at most `maxEvents` and `maxBytes` are held: the lowest tier first, and
   * within it the oldest (parked or ready, whichever was recorded first). Returns what went.
   */
  enforceBounds(maxEvents: number, maxBytes: number): T[] {
    const dropped: T[] = [];
    while (this.length > 0 && (this.length > maxEvents || this.bytes > maxBytes)) {
      const victim = this.oldestOfLowestTier()!;
      this.remove(victim);
      dropped.push(victim);
    }
    return dropped;
  }

  private oldestOfLowestTier(): T | undefined {
    for (const t of TIERS) {
      const r = this.ready.tiers[t].head?.item;
      const p = this.parked.tiers[t].head?.item;
      if (r && p) return p.seq < r.seq ? p : r;
      if (r || p) return r ?? p;
    }
    return undefined;
  }

  some(pred: (item: T) => boolean): boolean {
    for (const item of this.nodes.keys()) if (pred(item)) return true;
    return false;
  }

  /** Empties the queue, returning everything it held. */
  drain(): T[] {
    const all = [...this.ready.items(), ...this.parked.items()];
    for (const item of all) this.remove(item);
    return all;
  }

  private add(item: T, list: List<T>, atFront: boolean): void {
    if (this.nodes.has(item)) throw new Error('event already queued');
    const node: Node<T> = { item, list };
    list.insert(node, atFront);
    this.nodes.set(item, node);
  }
}
