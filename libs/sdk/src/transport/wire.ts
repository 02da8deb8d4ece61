/**
 * Wire serialisation for `POST /v1/ingest`. Every value is serialised once, with JSON.stringify,
 * when it is recorded; a request body is assembled from those texts and nothing is parsed again.
 * A candidate batch keeps each candidate's text apart, so one the server finds too large can be
 * cut in halves without serialising or parsing anything.
 */
import type { EventType } from '../events.js';
import { uuidv7 } from '../uuid.js';

/** One event, serialised. */
export interface EncodedEvent {
  readonly id: string;
  readonly type: EventType;
  readonly timestamp: string;
  /** The body's JSON; for `candidates-create` without its `candidates` member. */
  readonly body: string;
  /** `candidates-create` only: each candidate's JSON. */
  readonly candidates?: readonly string[];
  /** Size of the event's JSON in a request. */
  readonly bytes: number;
}

export const byteLength: (s: string) => number =
  typeof Buffer !== 'undefined' ? (s) => Buffer.byteLength(s, 'utf8') : (s) => new TextEncoder().encode(s).length;

/** JSON.stringify that survives cycles, BigInt and throwing toJSON/getters. */
export function safeStringify(value: unknown): string {
  // The chain of objects from the root to the value being written: a value already on it is a cycle.
  const ancestors: unknown[] = [];
  try {
    return (
      JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
        if (typeof v === 'bigint') return v.toString();
        if (typeof v !== 'object' || v === null) return v;
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
        if (ancestors.includes(v)) return '[Circular]';
        ancestors.push(v);
        return v;
      }) ?? 'null'
    );
  } catch {
    return '{"xray.unserializable":true}';
  }
}

/** JSON.stringify, falling back to `safeStringify` (and telling `onFallback`) when it throws. */
export function stringify(value: unknown, onFallback: (err: unknown) => void): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    onFallback(err);
    return safeStringify(value);
  }
}

/**
 * Adds a member to the JSON text of an object: `{"a":1}` + `b`, `2` → `{"a":1,"b":2}`.
 * `objectJson` must come from JSON.stringify of a plain object; `valueJson` is JSON text.
 */
function withMember(objectJson: string, name: string, valueJson: string): string {
  const open = objectJson.slice(0, -1);
  return `${open}${open.length > 1 ? ',' : ''}${JSON.stringify(name)}:${valueJson}}`;
}

const jsonArray = (items: readonly string[]): string => `[${items.join(',')}]`;

/** The event's JSON as it goes on the wire. */
export function eventJson(e: EncodedEvent): string {
  const body = e.candidates ? withMember(e.body, 'candidates', jsonArray(e.candidates)) : e.body;
  return withMember(JSON.stringify({ id: e.id, type: e.type, timestamp: e.timestamp }), 'body', body);
}

/** A request body: `{"events":[…]}`. */
export function requestJson(events: readonly EncodedEvent[]): string {
  return withMember('{}', 'events', jsonArray(events.map(eventJson)));
}

/** Bytes a request adds around its events, and per event after the first (the comma). */
export const REQUEST_OVERHEAD = byteLength('{"events":[]}');
export const EVENT_SEPARATOR = 1;

function make(type: EventType, timestamp: string, body: string, candidates?: readonly string[]): EncodedEvent {
  const draft = { id: uuidv7(), type, timestamp, body, ...(candidates ? { candidates } : {}), bytes: 0 };
  return { ...draft, bytes: byteLength(eventJson(draft)) };
}

/**
 * Serialises an event once (later changes to `body` are not seen). `onFallback` hears of a
 * value JSON.stringify refused (a BigInt, a cycle): it is sent with replacements instead.
 */
export function encodeEvent(type: EventType, body: object, timestamp: string, onFallback: (err: unknown) => void): EncodedEvent {
  if (type === 'candidates-create' && Array.isArray((body as { candidates?: unknown }).candidates)) {
    const { candidates, ...rest } = body as { candidates: unknown[] };
    return make(type, timestamp, stringify(rest, onFallback), candidates.map((c) => stringify(c, onFallback)));
  }
  return make(type, timestamp, stringify(body, onFallback));
}

/** How many candidates an event carries (0 for anything but a candidate batch). */
export const candidateCount = (e: EncodedEvent): number => e.candidates?.length ?? 0;

/** A candidate batch cut in two halves, as new events; undefined when it cannot be cut. */
export function splitCandidates(e: EncodedEvent): [EncodedEvent, EncodedEvent] | undefined {
  const list = e.candidates;
  if (!list || list.length < 2) return undefined;
  const half = Math.ceil(list.length / 2);
  return [make(e.type, e.timestamp, e.body, list.slice(0, half)), make(e.type, e.timestamp, e.body, list.slice(half))];
}
