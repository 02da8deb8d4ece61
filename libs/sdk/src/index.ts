// @xray-sys/sdk: the instrumentation layer (XrayClient, Run, Step) and, re-exported, the
// client generated from the API's OpenAPI document (every operation, typed).
export {
  XrayClient,
  createApiClient,
  configureApi,
  SDK_VERSION,
  type XrayClientOptions,
  type XrayStats,
  type ShutdownResult,
  type ScoreRequest,
} from './client.js';
export {
  SCORE_SOURCES,
  type ScoreValue,
  type ScoreSource,
  type ScoreOptions,
  type Evaluator,
  type EvaluatorFn,
  type EvaluatorContext,
  type EvaluatorResult,
  type EvaluatorOutput,
} from './scores.js';
export {
  Run,
  Step,
  STEP_TYPES,
  type StepType,
  type EndStatus,
  type MaskContext,
  type StartRunOptions,
  type RunCompleteOptions,
  type RunFailOptions,
  type StepOptions,
  type StepCompleteOptions,
  type StepFailOptions,
  type CandidatesResult,
  type LlmFields,
} from './handles.js';
export { DECISIONS, type Decision, type CandidateInput, type CandidatesOptions, type CaptureMode, type CandidateStats } from './candidates.js';
export { XrayError, type XrayErrorKind, type RejectedEvent, type ErrorInfo } from './errors.js';
export { uuidv7 } from './uuid.js';
export type { TransportStats } from './transport.js';
export type { Client as ApiClient } from './generated/client/index.js';
export * from './generated/index.js';
