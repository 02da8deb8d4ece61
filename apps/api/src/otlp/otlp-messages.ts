import { parsedJson } from './otlp-candidates.js';
import type { Attributes, OtlpValue } from './otlp-decode.js';

/**
 * A step's input and output from the message attributes of LLM spans, in the order they are
 * looked at (the first found wins; the attributes used are recorded in `used`, so they are not
 * repeated in the step's metadata):
 * 1. OpenInference `input.value` / `output.value` (parsed when the mime type is JSON);
 * 2. GenAI `gen_ai.input.messages` / `gen_ai.output.messages` (structured or JSON text), the
 *    input with `gen_ai.system_instructions` first as a `system` message;
 * 3. the older flattened forms: OpenLLMetry `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` and
 *    OpenInference `llm.input_messages.N.message.*` / `llm.output_messages.N.message.*`, rebuilt
 *    into a list of messages (`{role, content, tool_calls: [...]}`, numbered keys becoming list
 *    positions);
 * 4. OpenLLMetry `traceloop.entity.input` / `output` (JSON text parsed);
 * 5. for the input only, GenAI `gen_ai.retrieval.query.text` (a retrieval's query).
 */

const text = (v: OtlpValue | undefined): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const present = (v: OtlpValue | undefined): v is OtlpValue => v !== undefined && v !== null;

const FLATTENED: Record<'input' | 'output', string[]> = {
  input: ['gen_ai.prompt', 'llm.input_messages'],
  output: ['gen_ai.completion', 'llm.output_messages'],
};

/** Wrapper keys OpenInference puts around list items (`….N.message.role`, `tool_calls.M.tool_call.…`). */
const WRAPPERS = new Set(['message', 'tool_call', 'message_content']);
const MAX_INDEX = 999_999;

type Tree = { [key: string]: Tree | OtlpValue };

/**
 * The attributes under `prefix.N.` rebuilt as a list: `a.0.role`, `a.0.tool_calls.1.name` →
 * `[{role, tool_calls: [, {name}]}]` with every numbered level a list in index order (gaps
 * closed). Undefined when no attribute has that shape.
 */
export function unflattened(attributes: Attributes, prefix: string, used?: Set<string>): OtlpValue[] | undefined {
  const start = `${prefix}.`;
  const root: Tree = {};
  let found = false;
  for (const [key, value] of Object.entries(attributes)) {
    if (!key.startsWith(start)) continue;
    const path = key.slice(start.length).split('.');
    if (!/^\d{1,6}$/.test(path[0]) || path.some((p) => p === '' || p === '__proto__')) continue;
    found = true;
    used?.add(key);
    let node = root;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node[path[i]];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[path[i]] = {};
      node = node[path[i]] as Tree;
    }
    node[path[path.length - 1]] = value;
  }
  if (!found) return undefined;
  const list = listOf(root);
  return Array.isArray(list) ? list : undefined;
}

/** A tree whose keys are all indexes becomes a list in index order; single wrapper keys are removed. */
function listOf(node: Tree | OtlpValue): OtlpValue {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return node;
  const keys = Object.keys(node);
  if (keys.length > 0 && keys.every((k) => /^\d{1,6}$/.test(k) && Number(k) <= MAX_INDEX)) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => listOf(node[String(k)]));
  }
  if (keys.length === 1 && WRAPPERS.has(keys[0])) return listOf(node[keys[0]]);
  return Object.fromEntries(keys.map((k) => [k, listOf(node[k])]));
}

/** `gen_ai.system_instructions` (a list of parts, or text) as a leading system message. */
function systemMessage(value: OtlpValue): OtlpValue {
  const parsed = parsedJson(value);
  return Array.isArray(parsed) ? { role: 'system', parts: parsed } : { role: 'system', parts: [{ type: 'text', content: parsed }] };
}

/** The step's input or output (undefined when no attribute gives one); the attributes used are added to `used`. */
export function messagesIo(attributes: Attributes, which: 'input' | 'output', used: Set<string>): unknown {
  const value = attributes[`${which}.value`];
  if (present(value)) {
    used.add(`${which}.value`).add(`${which}.mime_type`);
    return typeof value === 'string' && text(attributes[`${which}.mime_type`]) === 'application/json' ? parsedJson(value) : value;
  }
  const messages = attributes[`gen_ai.${which}.messages`];
  const system = which === 'input' ? attributes['gen_ai.system_instructions'] : undefined;
  if (present(messages) || present(system)) {
    used.add(`gen_ai.${which}.messages`);
    if (!present(system)) return parsedJson(messages!);
    used.add('gen_ai.system_instructions');
    const list = present(messages) ? parsedJson(messages) : [];
    return Array.isArray(list) ? [systemMessage(system), ...list] : [systemMessage(system), list];
  }
  for (const prefix of FLATTENED[which]) {
    const list = unflattened(attributes, prefix, used);
    if (list) return list;
  }
  const entity = attributes[`traceloop.entity.${which}`];
  if (present(entity)) {
    used.add(`traceloop.entity.${which}`);
    return parsedJson(entity);
  }
  const query = which === 'input' ? text(attributes['gen_ai.retrieval.query.text']) : undefined;
  if (query) {
    used.add('gen_ai.retrieval.query.text');
    return query;
  }
  return undefined;
}
