/**
 * The words of xray's data model, defined once: every module, DTO, entity and statement that
 * names a status, a step type or a decision imports it from here. No Nest, no SQL.
 */

export const RUN_STATUSES = ['running', 'success', 'error', 'cancelled', 'timed_out'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses a client may set; `timed_out` is set only by the server. */
export const CLIENT_STATUSES = ['running', 'success', 'error', 'cancelled'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/** Statuses that end a run or step (and set its end time). */
export const ENDING_STATUSES: readonly RunStatus[] = ['success', 'error', 'cancelled', 'timed_out'];

/** Statuses that count as a failure in error rates. */
export const FAILED_STATUSES: readonly RunStatus[] = ['error', 'timed_out'];

export const STEP_TYPES = ['llm', 'retrieval', 'filter', 'rank', 'transform', 'tool', 'custom'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const DECISIONS = ['accepted', 'rejected', 'selected'] as const;
export type Decision = (typeof DECISIONS)[number];

/** Decisions that keep a candidate (counted in a step's candidatesOut). */
export const KEPT_DECISIONS: readonly Decision[] = ['accepted', 'selected'];

/**
 * What a project API key may do: send data, read, delete and erase data (for automation that
 * must not manage keys), or everything (`admin` implies the others).
 */
/** Key scopes. `feedback` may only create scores (for embedding in an end-user app); `ingest` and `admin` imply it. */
export const SCOPES = ['ingest', 'read', 'delete', 'admin', 'feedback'] as const;
export type Scope = (typeof SCOPES)[number];

export const isEnding = (status: string | undefined): boolean => status !== undefined && (ENDING_STATUSES as readonly string[]).includes(status);
export const isKept = (decision: string): boolean => (KEPT_DECISIONS as readonly string[]).includes(decision);
