import {
  backoffDelay,
  classifyOutcome,
  retryDecision,
  retryDelay,
  type Attempts,
  type Outcome,
  type OutcomeClass,
  type RetryDecision,
  type Scope,
} from './retry-policy.js';

const limits = { maxServerErrorAttempts: 10, maxParentRetries: 5 };
const none: Attempts = { transient: 0, serverErrors: 0, parentMissing: 0 };
const net: Outcome = { network: true };
const status = (s: number): Outcome => ({ status: s });

describe('retry policy', () => {
  // [what came back, scope, class]
  const classes: [Outcome, Scope, OutcomeClass][] = [
    [status(200), 'request', 'ok'],
    [status(207), 'request', 'ok'],
    [status(201), 'event', 'ok'],
    [net, 'request', 'transient'],
    [status(408), 'request', 'transient'],
    [status(429), 'request', 'transient'],
    [status(429), 'event', 'transient'],
    [status(502), 'request', 'transient'],
    [status(503), 'request', 'transient'],
    [status(503), 'event', 'transient'],
    [status(504), 'event', 'transient'],
    [status(500), 'request', 'server-error'],
    [status(500), 'event', 'server-error'],
    [status(501), 'request', 'server-error'],
    [status(404), 'event', 'parent-missing'],
    [status(404), 'request', 'refused'],
    [status(413), 'request', 'too-large'],
    [status(413), 'event', 'too-large'],
    [status(400), 'event', 'refused'],
    [status(400), 'request', 'refused'],
    [status(401), 'request', 'refused'],
    [status(403), 'request', 'refused'],
    [status(409), 'event', 'refused'],
  ];
  it.each(classes)('classifies %j for a %s as %s', (outcome, scope, expected) => {
    expect(classifyOutcome(outcome, scope)).toBe(expected);
  });

  // [what came back, for a request or one event, attempts before this answer, decision]
  const decisions: [Outcome, Scope, Partial<Attempts>, RetryDecision][] = [
    [status(201), 'event', {}, { action: 'done' }],
    // Transient outcomes are retried for as long as they last, per request and per event alike,
    // and never use up the counts of the bounded classes.
    [net, 'request', {}, { action: 'retry', counter: 'transient' }],
    [net, 'request', { transient: 10_000 }, { action: 'retry', counter: 'transient' }],
    [status(503), 'request', { transient: 10_000 }, { action: 'retry', counter: 'transient' }],
    [status(429), 'event', {}, { action: 'retry', counter: 'transient' }],
    [status(503), 'event', { transient: 10_000, parentMissing: 5, serverErrors: 9 }, { action: 'retry', counter: 'transient' }],
    [status(502), 'event', { parentMissing: 5 }, { action: 'retry', counter: 'transient' }],
    // 404 for one event: its own bounded count (5 retries, so 6 tries).
    [status(404), 'event', {}, { action: 'retry', counter: 'parentMissing' }],
    [status(404), 'event', { parentMissing: 4 }, { action: 'retry', counter: 'parentMissing' }],
    [status(404), 'event', { parentMissing: 5 }, { action: 'drop', exhausted: true }],
    [status(404), 'event', { transient: 50 }, { action: 'retry', counter: 'parentMissing' }],
    [status(404), 'request', {}, { action: 'drop', exhausted: false }],
    // 500: 10 tries in all, whether the whole request or one event got it.
    [status(500), 'request', {}, { action: 'retry', counter: 'serverErrors' }],
    [status(500), 'request', { serverErrors: 8 }, { action: 'retry', counter: 'serverErrors' }],
    [status(500), 'request', { serverErrors: 9 }, { action: 'drop', exhausted: true }],
    [status(500), 'event', { serverErrors: 8, parentMissing: 5 }, { action: 'retry', counter: 'serverErrors' }],
    [status(500), 'event', { serverErrors: 9 }, { action: 'drop', exhausted: true }],
    [status(413), 'request', {}, { action: 'shrink' }],
    [status(413), 'event', {}, { action: 'shrink' }],
    [status(400), 'event', {}, { action: 'drop', exhausted: false }],
    [status(409), 'event', {}, { action: 'drop', exhausted: false }],
    [status(401), 'request', {}, { action: 'drop', exhausted: false }],
  ];
  it.each(decisions)('decides %j for a %s after %j: %j', (outcome, scope, attempts, expected) => {
    expect(retryDecision(classifyOutcome(outcome, scope), { ...none, ...attempts }, limits)).toEqual(expected);
  });

  // [failures so far, Retry-After, jitter draw, delay]
  const delays: [number, number | undefined, number, number][] = [
    [1, undefined, 0, 50],
    [1, undefined, 1, 100],
    [4, undefined, 1, 800],
    [40, undefined, 1, 10_000],
    [1, 3_000, 0, 3_000],
    // A Retry-After longer than the longest delay is capped.
    [1, 60_000, 0, 10_000],
  ];
  it.each(delays)('waits after %i failure(s) with Retry-After %s (jitter %d): %i ms', (failures, retryAfter, draw, expected) => {
    expect(retryDelay(failures, retryAfter, 100, 10_000, () => draw)).toBe(expected);
    if (retryAfter === undefined) expect(backoffDelay(failures, 100, 10_000, () => draw)).toBe(expected);
  });
});
