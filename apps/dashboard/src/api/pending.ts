// TEMPORARY: operations the API is gaining (listRunSteps, getCandidate); typed
// calls replace this once the SDK is regenerated with them.
import * as sdk from './sdk.js';

type Op = (options: unknown) => Promise<{ data?: any; error?: unknown; response?: Response }>;
const ns = sdk as unknown as Record<string, Op | undefined>;
const op = (name: string): Op => (options) => {
  const f = ns[name];
  if (!f) return Promise.reject(new Error(`The SDK has no ${name} yet`));
  return f(options);
};
export const listRunSteps = op('listRunSteps');
export const getCandidate = op('getCandidate');
