// The handles a pipeline holds: runs (run.ts) and their steps (step.ts), over what they share
// (handle-core.ts).
export { STEP_TYPES, type Core, type EndStatus, type MaskContext, type StepType } from './handle-core.js';
export type { LlmFields } from './events.js';
export { Step, type CandidatesResult, type StepCompleteOptions, type StepFailOptions, type StepOptions } from './step.js';
export { Run, type RunCompleteOptions, type RunFailOptions, type StartRunOptions } from './run.js';
