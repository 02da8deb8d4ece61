/**
 * The ingest events the SDK emits, typed from the API's generated types: each body is the
 * matching endpoint's request body plus the ids of its path (see `IngestEventDto.body`).
 */
import type {
  CandidateInputDto,
  CreateCandidatesDto,
  CreateRunDto,
  CreateStepDto,
  ErrorInfoDto,
  CreateScoreDto,
  IngestEventDto,
  UpdateRunDto,
  UpdateStepDto,
} from './generated/types.gen.js';

/** What an ingest event does. */
export type EventType = IngestEventDto['type'];

export interface EventBodies {
  'run-create': CreateRunDto & { id: string };
  'run-update': UpdateRunDto & { id: string };
  'step-create': CreateStepDto & { id: string; runId: string };
  'step-update': UpdateStepDto & { id: string };
  'candidates-create': CreateCandidatesDto & { stepId: string };
  'score-create': CreateScoreDto & { id: string };
}

/** Fails to compile when the API gains an event type without a body here. */
type Covers<T extends Record<EventType, object>> = T;
export type EventBody<K extends EventType = EventType> = Covers<EventBodies>[K];

/** Any JSON value, as the API takes for inputs, outputs and candidate data. */
export type JsonValue = CreateRunDto['input'];

/** A candidate as sent. */
export type WireCandidate = CandidateInputDto;

export type StepType = NonNullable<CreateStepDto['type']>;

/** Statuses a client may end a run or a step with. */
export type EndStatus = Exclude<NonNullable<UpdateStepDto['status']>, 'running'>;

export type WireErrorInfo = ErrorInfoDto;

/** The step-update fields that carry a step's candidate totals and summary. */
export type StepCounts = Pick<UpdateStepDto, 'candidatesIn' | 'candidatesOut' | 'metadata'>;

/** The LLM fields of a step: model, provider, parameters, token usage, cost, time to first token. */
export type LlmFields = Pick<CreateStepDto, 'model' | 'provider' | 'modelParameters' | 'usage' | 'costUsd' | 'timeToFirstTokenMs'>;
