/**
 * Counts failed authentications (well-formed keys no project has) per client address in the
 * current minute, in this process.
 * Past the limit, the address is refused (429) before any key lookup until the minute ends:
 * a flood of made-up keys then costs no database work. Counting per process is enough for
 * that purpose (the exact per-key limit lives in PostgreSQL); with N processes behind a load
 * balancer an address gets up to N times the limit.
 */
export class AuthFailureLimiter {
  private minute = -1;
  private readonly failures = new Map<string, number>();

  constructor(
    /** Failures per minute per address; 0 turns the limiter off. */
    private readonly limit: number,
    private readonly now: () => number = Date.now,
    /** Addresses tracked at most per minute (a flood from many addresses cannot grow memory past it). */
    private readonly maxTracked = 100_000,
  ) {}

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    if (this.limit === 0) return 0;
    this.roll();
    if ((this.failures.get(address) ?? 0) < this.limit) return 0;
    return Math.max(1, Math.ceil(((this.minute + 1) * 60_000 - this.now()) / 1000));
  }

  /** Counts one failed authentication from `address`. */
  fail(address: string): void {
    if (this.limit === 0) return;
    this.roll();
    const seen = this.failures.get(address);
    if (seen === undefined && this.failures.size >= this.maxTracked) return;
    this.failures.set(address, (seen ?? 0) + 1);
  }

  private roll(): void {
    const minute = Math.floor(this.now() / 60_000);
    if (minute === this.minute) return;
    this.minute = minute;
    this.failures.clear();
  }
}
