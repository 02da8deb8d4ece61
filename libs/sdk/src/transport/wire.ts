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
  /** The event's JSON, as it goes on the wire. */
  readonly json: string;
  /** Its size in a request. */
  readonly bytes: number;
  /** `candidates-create` only: where its candidates are in `json`, so it can be cut without parsing. */
  readonly list?: CandidateList;
}

interface CandidateList {
  /** The body's JSON without its `candidates` member. */
  readonly rest: string;
  /** Where the candidates' JSON array starts in the event's JSON. */
  readonly at: number;
  /** Where each candidate's JSON starts in that array. */
  readonly starts: readonly number[];
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
export const eventJson = (e: EncodedEvent): string => e.json;

/** A request body: `{"events":[…]}`. */
export function requestJson(events: readonly EncodedEvent[]): string {
  return withMember('{}', 'events', jsonArray(events.map(eventJson)));
}

/** Bytes a request adds around its events, and per event after the first (the comma). */
export const REQUEST_OVERHEAD = byteLength('{"events":[]}');
export const EVENT_SEPARATOR = 1;

function make(type: EventType, timestamp: string, body: string, list?: { rest: string; json: string; starts: readonly number[] }): EncodedEvent {
  const id = uuidv7();
  const envelope = JSON.stringify({ id, type, timestamp });
  if (!list) {
    const json = withMember(envelope, 'body', body);
    return { id, type, timestamp, json, bytes: byteLength(json) };
  }
  const json = withMember(envelope, 'body', withMember(list.rest, 'candidates', list.json));
  // The array is the last member of the body, which is the last member of the event: `…[…]}}`.
  const at = json.length - list.json.length - 2;
  return { id, type, timestamp, json, bytes: byteLength(json), list: { rest: list.rest, at, starts: list.starts } };
}

/** A JSON array from its items' JSON, with where each item starts in it. */
function listOf(items: readonly string[]): { json: string; starts: number[] } {
  const starts: number[] = new Array<number>(items.length);
  let at = 1;
  for (let i = 0; i < items.length; i++) {
    starts[i] = at;
    at += items[i].length + 1;
  }
  return { json: jsonArray(items), starts };
}

/**
 * Serialises an event once (later changes to `body` are not seen). `onFallback` hears of a
 * value JSON.stringify refused (a BigInt, a cycle): it is sent with replacements instead.
 */
export function encodeEvent(type: EventType, body: object, timestamp: string, onFallback: (err: unknown) => void): EncodedEvent {
  if (type === 'candidates-create' && Array.isArray((body as { candidates?: unknown }).candidates)) {
    const { candidates, ...rest } = body as { candidates: unknown[] };
    return make(type, timestamp, '', { rest: stringify(rest, onFallback), ...listOf(candidates.map((c) => stringify(c, onFallback))) });
  }
  return make(type, timestamp, stringify(body, onFallback));
}

/** How many candidates an event carries (0 for anything but a candidate batch). */
export const candidateCount = (e: EncodedEvent): number => e.list?.starts.length ?? 0;

/** A candidate batch cut in two halves, as new events; undefined when it cannot be cut. */
export function splitCandidates(e: EncodedEvent): [EncodedEvent, EncodedEvent] | undefined {
  const list = e.list;
  if (!list || list.starts.length < 2) return undefined;
  const { starts, rest, at } = list;
  const half = Math.ceil(starts.length / 2);
  const end = e.json.length - 3; // the array's closing bracket
  // Each half is a contiguous run of the candidates' JSON: sliced, never parsed.
  const first = e.json.slice(at + starts[0], at + starts[half] - 1);
  const second = e.json.slice(at + starts[half], end);
  const shift = starts[half] - 1;
  return [
    make(e.type, e.timestamp, '', { rest, json: `[${first}]`, starts: starts.slice(0, half) }),
    make(e.type, e.timestamp, '', { rest, json: `[${second}]`, starts: starts.slice(half).map((s) => s - shift) }),
  ];
}
