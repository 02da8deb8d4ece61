import { acceptAll, FakeIngest, freePort, type WireEvent } from '../test/fake-ingest.js';
import type { XrayError } from './errors.js';
import { backoffDelay, parseRetryAfter, safeStringify, Transport, type EventHooks, type EventType, type TransportOptions } from './transport.js';

/** These tests push marker bodies (`n`, `kind`, `pad`) through the wire layer, not API-shaped ones. */
type MarkerTransport = Omit<Transport, 'enqueue'> & { enqueue(type: EventType, body: Record<string, unknown>, timestamp: string, hooks?: EventHooks): void };

function transport(baseUrl: string, over: Partial<TransportOptions> = {}, errors: XrayError[] = []): MarkerTransport {
  return new Transport({
    baseUrl,
    apiKey: 'xr_test',
    maxBatchEvents: 100,
    maxBatchBytes: 1024 * 1024,
    flushIntervalMs: 20,
    maxBufferEvents: 10_000,
    maxBufferBytes: 64 * 1024 * 1024,
    requestTimeoutMs: 5_000,
    retryBaseMs: 20,
    retryMaxMs: 200,
    maxServerErrorAttempts: 10,
    maxParentRetries: 3,
    fetch: (input, init) => fetch(input, init),
    headers: {},
    onError: (e) => errors.push(e),
    log: () => {},
    ...over,
  }) as unknown as MarkerTransport;
}

const ts = () => new Date().toISOString();
const ids = (events: WireEvent[]) => events.map((e) => e.id);

describe('Transport', () => {
  let server: FakeIngest;
  beforeEach(async () => {
    server = await new FakeIngest().start();
  });
  afterEach(async () => server.stop());

  it('sends events in order, in batches by count, with the key, and counts them', async () => {
    const t = transport(server.url, { maxBatchEvents: 10 });
    for (let i = 0; i < 25; i++) t.enqueue('run-create', { id: `r${i}`, n: i }, ts());
    expect(await t.flush(5_000)).toBe(true);
    expect(server.requests.map((r) => r.events.length)).toEqual([10, 10, 5]);
    expect(server.requests[0].path).toBe('/v1/ingest');
    expect(server.requests[0].headers.authorization).toBe('Bearer xr_test');
    expect(server.events.map((e) => e.body.n)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(new Set(ids(server.events)).size).toBe(25);
    expect(t.stats()).toMatchObject({ enqueued: 25, sent: 25, queued: 0, inFlight: 0, dropped: 0, rejected: 0 });
    await t.shutdown(1000);
  });

  it('splits batches by bytes', async () => {
    const t = transport(server.url, { maxBatchBytes: 2_000 });
    for (let i = 0; i < 10; i++) t.enqueue('run-create', { pad: 'x'.repeat(500) }, ts());
    await t.flush(5_000);
    expect(server.requests.length).toBeGreaterThanOrEqual(3);
    expect(server.events).toHaveLength(10);
    await t.shutdown(1000);
  });

  it('sends a lone event after the short interval without a flush', async () => {
    const t = transport(server.url, { flushIntervalMs: 30 });
    t.enqueue('run-create', { id: 'x' }, ts());
    for (let i = 0; i < 200 && server.events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.events).toHaveLength(1);
    await t.shutdown(1000);
  });

  it('snapshots the body when recorded', async () => {
    const t = transport(server.url);
    const body = { id: 'r', output: { list: [1] } };
    t.enqueue('run-create', body, ts());
    body.output.list.push(2);
    await t.flush(5_000);
    expect(server.events[0].body).toEqual({ id: 'r', output: { list: [1] } });
    await t.shutdown(1000);
  });

  it('honours Retry-After on 429 and then delivers each event once', async () => {
    server.reply = (events, n) =>
      n === 1
        ? { status: 429, headers: { 'retry-after': '1' }, body: { statusCode: 429, error: 'RATE_LIMITED', message: 'slow down' } }
        : { status: 207, body: { results: events.map((e) => ({ id: e.id, status: 201 })) } };
    const errors: XrayError[] = [];
    const t = transport(server.url, { retryMaxMs: 5_000 }, errors);
    for (let i = 0; i < 5; i++) t.enqueue('run-create', { n: i }, ts());
    expect(await t.flush(10_000)).toBe(true);
    expect(server.requests).toHaveLength(2);
    // Generous lower bound only: the retry came no sooner than the server asked.
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(ids(server.requests[1].events)).toEqual(ids(server.requests[0].events));
    expect(errors.some((e) => e.kind === 'http' && e.status === 429)).toBe(true);
    expect(t.stats()).toMatchObject({ sent: 5, retries: 1 });
    await t.shutdown(1000);
  });

  it('retries 5xx with backoff and gives up on an event only after repeated server errors', async () => {
    server.reply = (events, n) => (n <= 2 ? { status: 503, body: {} } : { status: 207, body: { results: events.map((e) => ({ id: e.id, status: 201 })) } });
    const t = transport(server.url);
    t.enqueue('run-create', { n: 1 }, ts());
    expect(await t.flush(10_000)).toBe(true);
    expect(server.requests).toHaveLength(3);
    expect(new Set(ids(server.events)).size).toBe(1);
    expect(t.stats()).toMatchObject({ sent: 1, retries: 2, rejected: 0 });
    await t.shutdown(1000);

    // 503 (and 502/504) say the server is unavailable: retried past the give-up count, for as long as it lasts.
    server.reply = (events, n) =>
      n <= 8 ? { status: [502, 503, 504][n % 3], body: {} } : { status: 207, body: { results: events.map((e) => ({ id: e.id, status: 201 })) } };
    const t1 = transport(server.url, { maxServerErrorAttempts: 3, retryMaxMs: 30 });
    t1.enqueue('run-create', { n: 3 }, ts());
    expect(await t1.flush(10_000)).toBe(true);
    expect(t1.stats()).toMatchObject({ sent: 1, rejected: 0, retries: 5 });
    await t1.shutdown(1000);

    server.reply = () => ({ status: 500, body: {} });
    const errors: XrayError[] = [];
    const t2 = transport(server.url, { maxServerErrorAttempts: 3, retryMaxMs: 30 }, errors);
    t2.enqueue('run-create', { n: 2 }, ts());
    expect(await t2.flush(10_000)).toBe(true);
    expect(t2.stats()).toMatchObject({ sent: 0, rejected: 1 });
    expect(errors.some((e) => e.kind === 'rejected')).toBe(true);
    await t2.shutdown(1000);
  });

  it('retries events answered 404 a bounded number of times, and drops 400s with a report', async () => {
    let parentArrives = 3;
    server.reply = (events) => ({
      status: 207,
      body: {
        results: events.map((e) => {
          if (e.body.kind === 'bad') return { id: e.id, status: 400, error: { statusCode: 400, error: 'VALIDATION_FAILED', message: 'name must be a string' } };
          if (e.body.kind === 'orphan') return { id: e.id, status: 404, error: { statusCode: 404, error: 'RUN_NOT_FOUND', message: 'Run not found' } };
          if (e.body.kind === 'late') return --parentArrives > 0 ? { id: e.id, status: 404 } : { id: e.id, status: 201 };
          return { id: e.id, status: 201 };
        }),
      },
    });
    const errors: XrayError[] = [];
    const t = transport(server.url, { maxParentRetries: 4 }, errors);
    t.enqueue('step-create', { kind: 'late' }, ts());
    t.enqueue('step-create', { kind: 'bad' }, ts());
    t.enqueue('step-create', { kind: 'orphan' }, ts());
    t.enqueue('step-create', { kind: 'fine' }, ts());
    expect(await t.flush(10_000)).toBe(true);
    const byKind = (k: string) => server.events.filter((e) => e.body.kind === k).length;
    expect({ late: byKind('late'), bad: byKind('bad'), orphan: byKind('orphan'), fine: byKind('fine') }).toEqual({ late: 3, bad: 1, orphan: 5, fine: 1 });
    expect(t.stats()).toMatchObject({ sent: 2, rejected: 2, queued: 0 });
    const rejected = errors.filter((e) => e.kind === 'rejected');
    expect(
      rejected
        .flatMap((e) => e.extra.events ?? [])
        .map((e) => e.status)
        .sort(),
    ).toEqual([400, 404]);
    expect(rejected[0].message).toContain('name must be a string');
    await t.shutdown(1000);
  });

  it('retries an event answered 429/503 inside a 207 for as long as it lasts, and gives up a per-event 500 after its own count', async () => {
    let busy = 8;
    server.reply = (events) => ({
      status: 207,
      body: {
        results: events.map((e) => {
          if (e.body.kind === 'busy') return busy-- > 0 ? { id: e.id, status: busy % 2 ? 503 : 429 } : { id: e.id, status: 201 };
          if (e.body.kind === 'broken') return { id: e.id, status: 500, error: { statusCode: 500, error: 'INTERNAL', message: 'boom' } };
          return { id: e.id, status: 201 };
        }),
      },
    });
    const errors: XrayError[] = [];
    // Fewer parent retries and server-error tries than the busy event needs: neither count applies to it.
    const t = transport(server.url, { maxParentRetries: 2, maxServerErrorAttempts: 3, retryMaxMs: 40 }, errors);
    t.enqueue('step-create', { kind: 'busy' }, ts());
    t.enqueue('step-create', { kind: 'broken' }, ts());
    expect(await t.flush(10_000)).toBe(true);
    const tries = (k: string) => server.events.filter((e) => e.body.kind === k).length;
    expect({ busy: tries('busy'), broken: tries('broken') }).toEqual({ busy: 9, broken: 3 });
    expect(t.stats()).toMatchObject({ sent: 1, rejected: 1, queued: 0 });
    expect(
      errors
        .filter((e) => e.kind === 'rejected')
        .flatMap((e) => e.extra.events ?? [])
        .map((e) => e.status),
    ).toEqual([500]);
    await t.shutdown(1000);
  });

  it('halves the batch on 413 and drops a single event that is still too large', async () => {
    server.reply = (events) =>
      events.length > 4 || events.some((e) => e.body.huge)
        ? { status: 413, body: { statusCode: 413, error: 'PAYLOAD_TOO_LARGE', message: 'too large' } }
        : { status: 207, body: { results: events.map((e) => ({ id: e.id, status: 201 })) } };
    const errors: XrayError[] = [];
    const t = transport(server.url, {}, errors);
    for (let i = 0; i < 10; i++) t.enqueue('run-create', { n: i }, ts());
    t.enqueue('run-create', { huge: true }, ts());
    expect(await t.flush(10_000)).toBe(true);
    expect(t.stats()).toMatchObject({ sent: 10, rejected: 1 });
    expect(server.events.filter((e) => e.body.n !== undefined && e.body.huge === undefined).map((e) => e.body.n)).toContain(9);
    expect(errors.some((e) => e.status === 413)).toBe(true);
    await t.shutdown(1000);
  });

  it('cuts a candidate batch the server finds too large in halves until it fits', async () => {
    const sizes: number[] = [];
    server.reply = (events) => {
      const tooBig = events.find((e) => e.type === 'candidates-create' && (e.body.candidates as unknown[]).length > 300);
      // Whole-request 413 when alone, per-event 413 when with others: both are handled.
      if (tooBig && events.length === 1) return { status: 413, body: { statusCode: 413, error: 'PAYLOAD_TOO_LARGE', message: 'too large' } };
      return {
        status: 207,
        body: {
          results: events.map((e) => {
            const n = e.type === 'candidates-create' ? (e.body.candidates as unknown[]).length : 0;
            if (n > 300) return { id: e.id, status: 413, error: { statusCode: 413, error: 'TOO_MANY_CANDIDATES', message: 'too many' } };
            if (n) sizes.push(n);
            return { id: e.id, status: 201 };
          }),
        },
      };
    };
    const errors: XrayError[] = [];
    const t = transport(server.url, {}, errors);
    const candidates = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, decision: 'accepted' }));
    t.enqueue('step-create', { id: 's' }, ts());
    t.enqueue('candidates-create', { stepId: 's', candidates: candidates(0, 1000) }, ts());
    expect(await t.flush(10_000)).toBe(true);
    t.enqueue('candidates-create', { stepId: 's', candidates: candidates(1000, 500) }, ts());
    expect(await t.flush(10_000)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1500);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(300);
    const keys = server.events
      .filter((e) => e.type === 'candidates-create' && (e.body.candidates as unknown[]).length <= 300)
      .flatMap((e) => (e.body.candidates as { key: string }[]).map((c) => c.key));
    expect(new Set(keys).size).toBe(1500);
    expect(t.stats()).toMatchObject({ rejected: 0, queued: 0, sent: t.stats().enqueued });
    expect(errors.filter((e) => e.kind === 'rejected')).toEqual([]);
    await t.shutdown(1000);
  });

  it('with the server down: keeps a bounded buffer, drops the oldest, and shuts down by its deadline', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const errors: XrayError[] = [];
    const t = transport(down, { maxBufferEvents: 500 }, errors);
    for (let i = 0; i < 5_000; i++) t.enqueue('run-create', { n: i }, ts());
    const s = t.stats();
    expect(s.queued + s.inFlight).toBeLessThanOrEqual(500);
    expect(s.dropped).toBeGreaterThanOrEqual(4_500);
    expect(errors.filter((e) => e.kind === 'dropped')).toHaveLength(1);
    const started = Date.now();
    const result = await t.shutdown(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.drained).toBe(false);
    expect(result.unsent).toBeGreaterThan(0);
    expect(t.stats()).toMatchObject({ queued: 0, inFlight: 0 });
    expect(errors.some((e) => e.kind === 'network')).toBe(true);
    // After shutdown nothing is queued any more.
    t.enqueue('run-create', {}, ts());
    expect(t.stats().queued).toBe(0);
  });

  it('when the buffer is full drops candidate batches before run and step events, counts them by kind and tells their recorder', async () => {
    let open = false;
    server.reply = (events) => (open ? acceptAll(events) : { status: 503, body: {} });
    const errors: XrayError[] = [];
    const t = transport(server.url, { maxBufferEvents: 50, maxBatchEvents: 5, retryMaxMs: 40 }, errors);
    const told = new Map<string, number>();
    const candidates = (step: string) => Array.from({ length: 10 }, (_, i) => ({ key: `${step}-${i}`, decision: 'rejected' }));
    t.enqueue('run-create', { id: 'r' }, ts());
    for (let s = 0; s < 30; s++) {
      t.enqueue('step-create', { id: `s${s}` }, ts());
      t.enqueue('candidates-create', { stepId: `s${s}`, candidates: candidates(`s${s}`) }, ts(), {
        onDropped: (n) => told.set(`s${s}`, (told.get(`s${s}`) ?? 0) + n),
      });
    }
    const full = t.stats();
    // 61 recorded, at most 50 held (plus one request held by the 503s): only candidate batches went.
    expect(full.queued).toBeLessThanOrEqual(50);
    expect(full.droppedByKind).toEqual({ runs: 0, steps: 0, candidates: full.dropped, scores: 0 });
    expect(full.dropped).toBeGreaterThanOrEqual(11 - full.inFlight);
    expect(full.candidatesDropped).toBe(10 * full.dropped);
    expect([...told.values()].reduce((a, b) => a + b, 0)).toBe(full.candidatesDropped);
    expect(errors.filter((e) => e.kind === 'dropped')).toHaveLength(1);
    open = true;
    expect(await t.flush(10_000)).toBe(true);
    const received = (type: string) => new Set(server.events.filter((e) => e.type === type).map((e) => (e.body.id ?? e.body.stepId) as string));
    expect(received('run-create')).toEqual(new Set(['r']));
    expect(received('step-create').size).toBe(30);
    // Every step's candidates either arrived or were reported to its recorder, never both.
    for (let s = 0; s < 30; s++) expect(received('candidates-create').has(`s${s}`)).toBe(!told.has(`s${s}`));
    expect(t.stats()).toMatchObject({ rejected: 0, queued: 0, sent: t.stats().enqueued - t.stats().dropped });

    // With no candidate batch left, the oldest structure goes: memory stays bounded whatever is recorded.
    open = false;
    for (let i = 0; i < 80; i++) t.enqueue('step-create', { id: `late${i}` }, ts());
    const after = t.stats();
    expect(after.queued).toBeLessThanOrEqual(50);
    expect(after.droppedByKind.steps).toBeGreaterThanOrEqual(80 - 50 - after.inFlight);
    await t.shutdown(100);
  });

  it('bounds the buffer by bytes too', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const t = transport(down, { maxBufferBytes: 50_000 });
    for (let i = 0; i < 1_000; i++) t.enqueue('run-create', { pad: 'y'.repeat(1_000) }, ts());
    expect(t.stats().queuedBytes).toBeLessThanOrEqual(50_000);
    await t.shutdown(100);
  });
});

describe('helpers', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(40, 100, 10_000, () => 1)).toBe(10_000);
  });

  it('serializes what JSON.stringify cannot', () => {
    const a: Record<string, unknown> = { n: 10n };
    a.self = a;
    const shared = { x: 1 };
    expect(JSON.parse(safeStringify({ a, l: [shared, shared] }))).toEqual({ a: { n: '10', self: '[Circular]' }, l: [{ x: 1 }, { x: 1 }] });
  });
});
