// What the run and step handles share: the client's core they talk to, and the rules that make
// fields acceptable to the API.
import { truncate, XrayError } from './errors.js';
import type { EventBodies, EventType, JsonValue, StepType } from './events.js';
import type { EventHooks } from './transport.js';

export type { EndStatus, StepType } from './events.js';
/** The step types the API takes (`StepType` comes from the API's generated types). */
export const STEP_TYPES = ['llm', 'retrieval', 'filter', 'rank', 'transform', 'tool', 'custom'] as const satisfies readonly StepType[];
/** Fails to compile when the API gains a step type this list lacks. */
const everyStepTypeListed: Exclude<StepType, (typeof STEP_TYPES)[number]> extends never ? true : false = true;
void everyStepTypeListed;

/** Which value `mask` is looking at. */
export interface MaskContext {
  field: 'input' | 'output' | 'data';
  runId: string;
  stepId?: string;
  /** The candidate's key, for `data`. */
  key?: string;
}

/** What handles need from the client: kept internal, so the public surface stays small. */
export interface Core {
  emit<K extends EventType>(type: K, body: EventBodies[K], hooks?: EventHooks): void;
  /** What `mask` returned (or the value itself), to be sent with JSON's rules. */
  mask(value: unknown, ctx: MaskContext): JsonValue;
  report(err: XrayError): void;
  readonly samplePerReason: number;
  readonly captureAllLimit: number;
  readonly candidatesPerEvent: number;
  readonly maxReasons: number;
  /** How long an evaluator may take before it is given up. */
  readonly evaluatorTimeoutMs: number;
  /** Background work (evaluators) that `flush` and `shutdown` wait for before sending. */
  track(work: Promise<unknown>): void;
}

// The server refuses a whole event over one bad field (and then everything under it, a run's
// steps or a step's children, as "parent not found"), so fields are made acceptable here.
export function stepType(core: Core, type: unknown): StepType {
  if ((STEP_TYPES as readonly unknown[]).includes(type)) return type as StepType;
  core.report(new XrayError('usage', `unknown step type "${String(type)}"; recorded as "custom" (one of: ${STEP_TYPES.join(', ')})`));
  return 'custom';
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const metadataOf = (m: unknown): { metadata?: Record<string, unknown> } => (isPlainObject(m) ? { metadata: m } : {});

/** At most 50 tags of at most 100 characters, as the API takes them. */
export const tagsOf = (tags: unknown): { tags?: string[] } =>
  Array.isArray(tags)
    ? {
        tags: tags
          .filter((t): t is string => typeof t === 'string' && t !== '')
          .slice(0, 50)
          .map((t) => truncate(t, 100)),
      }
    : {};
export const now = () => new Date().toISOString();

export function guard<T>(core: Core, what: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    core.report(new XrayError('internal', `${what} failed inside the SDK: ${(err as Error)?.message ?? err}`, { cause: err }));
    return fallback;
  }
}
