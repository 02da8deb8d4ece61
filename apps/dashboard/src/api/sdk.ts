// The dashboard talks to the API only through the client generated from the OpenAPI document
// (libs/sdk/src/generated), the same contract every other client uses.
export * from '../../../../libs/sdk/src/generated/index.js';
export { createClient } from '../../../../libs/sdk/src/generated/client/index.js';
export type { Client } from '../../../../libs/sdk/src/generated/client/index.js';
