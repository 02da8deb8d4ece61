/**
 * The transport: sends one request body to `POST /v1/ingest` and says what came back. It does
 * not retry, queue or judge; that is the retrying sender's job.
 */
import type { RejectedEvent } from '../errors.js';
import { parseRetryAfter } from './retry-policy.js';

/** One event's result inside a 2xx (207) answer. */
export interface EventResult {
  id?: string;
  status?: number;
  error?: RejectedEvent['error'];
}

export type SendResult =
  /** 2xx; `results` is undefined when the answer had no per-event results. */
  | { kind: 'answered'; status: number; results?: EventResult[] }
  /** Any other status, with the server's Retry-After (429, 503) and error text. */
  | { kind: 'failed'; status: number; retryAfterMs?: number; detail: string }
  /** No answer: the network failed, or the request timed out. */
  | { kind: 'unreachable'; message: string; cause: unknown };

export interface IngestTransport {
  readonly url: string;
  send(body: string): Promise<SendResult>;
  /** Abandons the request in progress (shutdown). */
  abort(): void;
}

export interface FetchTransportOptions {
  baseUrl: string;
  apiKey: string;
  requestTimeoutMs: number;
  fetch: typeof fetch;
  headers: Record<string, string>;
}

type Timer = ReturnType<typeof setTimeout>;

export const unref = (t: Timer): Timer => {
  (t as { unref?: () => void }).unref?.();
  return t;
};

export class FetchIngestTransport implements IngestTransport {
  readonly url: string;
  private controller?: AbortController;

  constructor(private readonly opts: FetchTransportOptions) {
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/v1/ingest`;
  }

  async send(body: string): Promise<SendResult> {
    const controller = new AbortController();
    this.controller = controller;
    const timeout = unref(setTimeout(() => controller.abort(), this.opts.requestTimeoutMs));
    try {
      const res = await this.opts.fetch(this.url, {
        method: 'POST',
        headers: { ...this.opts.headers, 'content-type': 'application/json', authorization: `Bearer ${this.opts.apiKey}` },
        body,
        signal: controller.signal,
      });
      if (res.status >= 200 && res.status < 300) {
        let results: EventResult[] | undefined;
        try {
          results = ((await res.json()) as { results?: EventResult[] } | null)?.results;
        } catch {
          results = undefined;
        }
        return { kind: 'answered', status: res.status, results: Array.isArray(results) ? results : undefined };
      }
      const detail = errorMessage(await res.text().catch(() => ''));
      const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
      return { kind: 'failed', status: res.status, detail, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    } catch (err) {
      const message = controller.signal.aborted ? `request timed out after ${this.opts.requestTimeoutMs} ms` : describeNetworkError(err);
      return { kind: 'unreachable', message, cause: err };
    } finally {
      clearTimeout(timeout);
      if (this.controller === controller) this.controller = undefined;
    }
  }

  abort(): void {
    this.controller?.abort();
  }
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ? `${err.message} (${cause.code})` : cause?.message ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

/** The error shape's `error: message`, or the start of whatever else came back. */
function errorMessage(text: string): string {
  if (!text) return '';
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return [body.error, body.message].filter(Boolean).join(': ').slice(0, 500);
  } catch {
    return text.slice(0, 200);
  }
}
