import { createClient, type ErrorResponseDto } from './sdk.js';

/** One client for the whole app: same origin, the key sent as `Authorization: Bearer` only. */
export const api = createClient({ baseUrl: '' });

let currentKey: string | null = null;
api.setConfig({ auth: (a) => (a.scheme === 'bearer' ? (currentKey ?? undefined) : undefined) });

export function setApiKey(key: string | null): void {
  currentKey = key;
}

/** An API answer other than 2xx, in the API's one error shape. Never carries the key. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

type Listener = () => void;

/** Small external stores (useSyncExternalStore) for what every view shares. */
function store<T>(initial: T) {
  let value = initial;
  const listeners = new Set<Listener>();
  return {
    get: () => value,
    set(next: T) {
      if (next === value) return;
      value = next;
      for (const l of listeners) l();
    },
    subscribe(l: Listener) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

/** The banner for 429 / 503 / network trouble; cleared by the next successful call. */
export const outage = store<{ status: number; message: string; retryAt: number } | null>(null);
/** Set when the API answers 401: the session ends and sign-in says why. */
export const unauthorized = store<string | null>(null);

interface Result<T> {
  data?: T;
  error?: unknown;
  response?: Response;
}

/** Awaits a generated SDK call and returns its data, or throws an ApiFailure. */
export async function call<T>(request: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await request;
  } catch {
    outage.set({ status: 0, message: 'The xray API cannot be reached. Retrying…', retryAt: Date.now() + 2000 });
    throw new ApiFailure(0, 'NETWORK', 'The xray API cannot be reached');
  }
  const res = result.response;
  if (res && res.ok && result.error === undefined) {
    // Another call succeeding meanwhile does not end an outage; a success after the retry time does.
    const o = outage.get();
    if (o && Date.now() >= o.retryAt - 50) outage.set(null);
    return result.data as T;
  }
  const status = res?.status ?? 0;
  const body = (result.error ?? {}) as Partial<ErrorResponseDto>;
  const retryHeader = Number(res?.headers.get('Retry-After'));
  const retryAfterS = Number.isFinite(retryHeader) && retryHeader > 0 ? retryHeader : null;
  const message = typeof body.message === 'string' ? body.message : `The API answered ${status}`;
  const failure = new ApiFailure(status, typeof body.error === 'string' ? body.error : String(status), message, retryAfterS);
  if (status === 401) unauthorized.set(message);
  if (status === 429 || status === 503) {
    const wait = (retryAfterS ?? 2) * 1000;
    outage.set({
      status,
      message:
        status === 429
          ? `Too many requests: the API asked to wait. Retrying in ${Math.ceil(wait / 1000)} s…`
          : `The API is unavailable (${message}). Retrying in ${Math.ceil(wait / 1000)} s…`,
      retryAt: Date.now() + wait,
    });
  }
  throw failure;
}

/** Retry policy for queries: 429/503/network retry by themselves after Retry-After; the rest fail at once. */
export function shouldRetry(count: number, err: unknown): boolean {
  return err instanceof ApiFailure && (err.status === 429 || err.status === 503 || err.status === 0) && count < 30;
}

export function retryDelay(count: number, err: unknown): number {
  if (err instanceof ApiFailure && err.retryAfterS) return err.retryAfterS * 1000;
  return Math.min(10_000, 1000 * 2 ** count);
}

/** A readable sentence for an error; a 403 names the missing scope (the API's message does). */
export function describeError(err: unknown): string {
  if (err instanceof ApiFailure) {
    if (err.status === 403) return `Not allowed: ${err.message}`;
    if (err.status === 404) return `Not found: ${err.message}`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
