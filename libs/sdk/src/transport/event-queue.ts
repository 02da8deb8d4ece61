/**
 * The bounded buffer of events waiting to be sent: the ones ready to go, in the order they
 * were recorded, and the ones parked until a retry time. Past its bounds it drops candidate
 * batches first (oldest first), and structure (run and step events) only when no candidate
 * batch is left, because a dropped run or step create makes everything under it an orphan.
 */

/** What an event carries, for the drop order and the per-kind counts. */
export type EventKind = 'runs' | 'steps' | 'candidates';

export interface QueueItem {
  /** Order of recording; parts of one recorded event share it. */
  readonly seq: number;
  readonly bytes: number;
  readonly kind: EventKind;
  /** Earliest time to send it (parked events). */
  notBefore: number;
}

interface Node<T extends QueueItem> {
  readonly item: T;
  list: List<T>;
  prev?: Node<T>;
  next?: Node<T>;
  /** Neighbours among the droppable-first nodes (candidate batches) of the same list. */
  dprev?: Node<T>;
  dnext?: Node<T>;
}

/** A doubly linked list in recording order, with a second chain through its candidate batches. */
class List<T extends QueueItem> {
  head?: Node<T>;
  tail?: Node<T>;
  dhead?: Node<T>;
  dtail?: Node<T>;
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
    if (node.item.kind === 'candidates') {
      if (atFront) {
        node.dnext = this.dhead;
        if (this.dhead) this.dhead.dprev = node;
        else this.dtail = node;
        this.dhead = node;
      } else {
        node.dprev = this.dtail;
        if (this.dtail) this.dtail.dnext = node;
        else this.dhead = node;
        this.dtail = node;
      }
    }
    this.length++;
    this.bytes += node.item.bytes;
  }

  remove(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    if (node.item.kind === 'candidates') {
      if (node.dprev) node.dprev.dnext = node.dnext;
      else this.dhead = node.dnext;
      if (node.dnext) node.dnext.dprev = node.dprev;
      else this.dtail = node.dprev;
    }
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
    for (let n = this.parked.head; n; ) {
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
   * Drops events until at most `maxEvents` and `maxBytes` are held: candidate batches first,
   * oldest first (parked or ready, whichever was recorded first), then the oldest ready events,
   * then the oldest parked ones. Returns what was dropped.
   */
  enforceBounds(maxEvents: number, maxBytes: number): T[] {
    const dropped: T[] = [];
    while (this.length > 0 && (this.length > maxEvents || this.bytes > maxBytes)) {
      const victim = (this.ready.head ?? this.parked.head)!;
      this.remove(victim.item);
      dropped.push(victim.item);
    }
    return dropped;
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
