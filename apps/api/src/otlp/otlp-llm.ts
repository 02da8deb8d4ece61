import { MAX_COST_USD, MAX_TOKENS } from '../steps/llm-fields.dto.js';
import { parsedJson } from './otlp-candidates.js';
import type { Attributes, OtlpValue } from './otlp-decode.js';

/**
 * A span's LLM fields (model, provider, model parameters, token usage, cost) from the attributes
 * of the OpenTelemetry GenAI conventions, OpenInference and OpenLLMetry (pure). For each field
 * the first attribute present with a usable value wins; the attributes used leave the step's
 * metadata, and one whose value cannot be used (a negative token count, a cost that is not a
 * number) stays there, so nothing is lost and no span is refused for it.
 */

/** The first source present wins (order matters: the model that answered before the one asked for). */
const MODEL = ['gen_ai.response.model', 'llm.model_name', 'gen_ai.request.model'];
const PROVIDER = ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system'];
const USAGE: Record<string, string[]> = {
  input: ['gen_ai.usage.input_tokens', 'llm.token_count.prompt', 'gen_ai.usage.prompt_tokens'],
  output: ['gen_ai.usage.output_tokens', 'llm.token_count.completion', 'gen_ai.usage.completion_tokens'],
  total: ['llm.token_count.total', 'gen_ai.usage.total_tokens', 'llm.usage.total_tokens'],
  cacheRead: ['gen_ai.usage.cache_read.input_tokens', 'llm.token_count.prompt_details.cache_read', 'gen_ai.usage.cache_read_input_tokens'],
  cacheWrite: ['gen_ai.usage.cache_creation.input_tokens', 'llm.token_count.prompt_details.cache_write', 'gen_ai.usage.cache_creation_input_tokens'],
  reasoning: ['gen_ai.usage.reasoning.output_tokens', 'llm.token_count.completion_details.reasoning', 'gen_ai.usage.reasoning_tokens'],
};
/** OpenInference's total cost, else its prompt and completion costs added. */
const COST_TOTAL = 'llm.cost.total';
const COST_PARTS = ['llm.cost.prompt', 'llm.cost.completion'];
/** GenAI request parameters, named in modelParameters by what follows `gen_ai.request.`. */
const REQUEST_PARAMETERS = [
  'temperature',
  'max_tokens',
  'top_p',
  'top_k',
  'frequency_penalty',
  'presence_penalty',
  'stop_sequences',
  'seed',
  'choice.count',
].map((p) => `gen_ai.request.${p}`);
const INVOCATION_PARAMETERS = 'llm.invocation_parameters';
const TIME_TO_FIRST_TOKEN = 'xray.step.time_to_first_token_ms';

export interface SpanLlmFields {
  /** The step fields (createStep's LLM fields), only those found. */
  fields: Record<string, unknown>;
  /** The attributes they came from. */
  mapped: ReadonlySet<string>;
}

const numberOf = (v: OtlpValue | undefined): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};
const tokenCount = (v: OtlpValue | undefined): number | undefined => {
  const n = numberOf(v);
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= MAX_TOKENS ? n : undefined;
};
const name = (v: OtlpValue | undefined, max: number): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined);
const isObject = (v: unknown): v is Record<string, OtlpValue> => typeof v === 'object' && v !== null && !Array.isArray(v);

const NONE: SpanLlmFields = Object.freeze({ fields: Object.freeze({}), mapped: new Set<string>() });
const mayBeLlm = (key: string) => key.startsWith('gen_ai.') || key.startsWith('llm.') || key === TIME_TO_FIRST_TOKEN;

/** The span's LLM fields and the attributes they came from. */
export function spanLlmFields(attributes: Attributes): SpanLlmFields {
  // Most spans of a big trace carry no LLM attribute at all: answered without building anything.
  let any = false;
  for (const key in attributes) {
    if (mayBeLlm(key)) {
      any = true;
      break;
    }
  }
  return any ? mapLlmAttributes(attributes) : NONE;
}

function mapLlmAttributes(a: Attributes): SpanLlmFields {
  const fields: Record<string, unknown> = {};
  const mapped = new Set<string>();
  /** The first of `keys` whose value `read` accepts; marks it (and the other keys present for the same field) mapped. */
  const first = <T>(keys: string[], read: (v: OtlpValue) => T | undefined): T | undefined => {
    for (const key of keys) {
      if (!(key in a)) continue;
      const value = read(a[key]);
      if (value === undefined) continue;
      mapped.add(key);
      // Other sources of the same field that say the same thing leave metadata too.
      for (const other of keys) if (other !== key && other in a && read(a[other]) === value) mapped.add(other);
      return value;
    }
    return undefined;
  };

  const model = first(MODEL, (v) => name(v, 200));
  if (model !== undefined) fields.model = model;
  const provider = first(PROVIDER, (v) => name(v, 100));
  if (provider !== undefined) fields.provider = provider;

  const usage: Record<string, number> = {};
  for (const [field, keys] of Object.entries(USAGE)) {
    const n = first(keys, tokenCount);
    if (n !== undefined) usage[field] = n;
  }
  if (Object.keys(usage).length) fields.usage = usage;

  const cost = (v: OtlpValue) => {
    const n = numberOf(v);
    return n !== undefined && n >= 0 && n <= MAX_COST_USD ? n : undefined;
  };
  const total = first([COST_TOTAL], cost);
  if (total !== undefined) fields.costUsd = total;
  else {
    const parts = COST_PARTS.map((k) => (k in a ? cost(a[k]) : undefined));
    if (parts.some((p) => p !== undefined) && parts.every((p, i) => p !== undefined || !(COST_PARTS[i] in a))) {
      fields.costUsd = parts.reduce<number>((sum, p) => sum + (p ?? 0), 0);
      COST_PARTS.forEach((k) => k in a && mapped.add(k));
    }
  }

  const parameters: Record<string, unknown> = {};
  if (INVOCATION_PARAMETERS in a) {
    const parsed = parsedJson(a[INVOCATION_PARAMETERS]);
    if (isObject(parsed)) {
      Object.assign(parameters, parsed);
      mapped.add(INVOCATION_PARAMETERS);
    }
  }
  for (const key of REQUEST_PARAMETERS) {
    if (key in a && a[key] !== null) {
      parameters[key.slice('gen_ai.request.'.length)] = a[key];
      mapped.add(key);
    }
  }
  if (Object.keys(parameters).length) fields.modelParameters = parameters;

  const ttft = first([TIME_TO_FIRST_TOKEN], (v) => {
    const n = numberOf(v);
    return n !== undefined && n >= 0 && n <= 86_400_000 ? n : undefined;
  });
  if (ttft !== undefined) fields.timeToFirstTokenMs = ttft;

  return { fields, mapped };
}
