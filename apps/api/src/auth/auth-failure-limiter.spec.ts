import { AuthFailureLimiter } from './auth-failure-limiter.js';

describe('AuthFailureLimiter', () => {
  let now = 0;
  const clock = () => now;

  it('refuses an address after `limit` failures until the minute ends, and no other address', () => {
    now = 10 * 60_000 + 15_000; // 15 s into a minute
    const limiter = new AuthFailureLimiter(3, clock);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfter('198.51.100.1')).toBe(0);
      limiter.fail('198.51.100.1');
    }
    expect(limiter.retryAfter('198.51.100.1')).toBe(45);
    expect(limiter.retryAfter('198.51.100.2')).toBe(0);
    now += 44_500;
    expect(limiter.retryAfter('198.51.100.1')).toBe(1);
    now += 500; // the next minute
    expect(limiter.retryAfter('198.51.100.1')).toBe(0);
  });

  it('does nothing with a limit of 0', () => {
    const limiter = new AuthFailureLimiter(0, clock);
    for (let i = 0; i < 1000; i++) limiter.fail('198.51.100.1');
    expect(limiter.retryAfter('198.51.100.1')).toBe(0);
  });

  it('tracks at most maxTracked addresses a minute (memory stays bounded under a spread flood)', () => {
    now = 0;
    const limiter = new AuthFailureLimiter(1, clock, 2);
    limiter.fail('a');
    limiter.fail('b');
    limiter.fail('c');
    expect([limiter.retryAfter('a'), limiter.retryAfter('b'), limiter.retryAfter('c')].map((s) => s > 0)).toEqual([true, true, false]);
  });
});
