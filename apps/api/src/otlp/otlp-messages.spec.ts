import { documentCandidates } from './otlp-candidates.js';
import type { OtlpValue } from './otlp-decode.js';
import { messagesIo, unflattened } from './otlp-messages.js';

describe('OTLP messages as step input and output', () => {
  it('rebuilds OpenLLMetry gen_ai.prompt.N.* / gen_ai.completion.N.* into message lists, tool calls included', () => {
    const attributes = {
      'gen_ai.prompt.1.role': 'user',
      'gen_ai.prompt.1.content': 'Weather in Paris?',
      'gen_ai.prompt.0.role': 'system',
      'gen_ai.prompt.0.content': 'Be brief.',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.finish_reason': 'tool_calls',
      'gen_ai.completion.0.tool_calls.0.name': 'get_weather',
      'gen_ai.completion.0.tool_calls.0.arguments': '{"city":"Paris"}',
      'gen_ai.usage.input_tokens': 12,
    };
    const used = new Set<string>();
    expect(messagesIo(attributes, 'input', used)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
    ]);
    expect(messagesIo(attributes, 'output', used)).toEqual([
      { role: 'assistant', finish_reason: 'tool_calls', tool_calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] },
    ]);
    expect([...used].sort()).toEqual(
      Object.keys(attributes)
        .filter((k) => !k.startsWith('gen_ai.usage'))
        .sort(),
    );
  });

  it('rebuilds OpenInference llm.input_messages.N.message.* / llm.output_messages.N.message.*, without the wrapper keys', () => {
    const attributes = {
      'llm.input_messages.0.message.role': 'user',
      'llm.input_messages.0.message.contents.0.message_content.type': 'text',
      'llm.input_messages.0.message.contents.0.message_content.text': 'Hi',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'search',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{}',
    };
    expect(messagesIo(attributes, 'input', new Set())).toEqual([{ role: 'user', contents: [{ type: 'text', text: 'Hi' }] }]);
    expect(messagesIo(attributes, 'output', new Set())).toEqual([{ role: 'assistant', tool_calls: [{ function: { name: 'search', arguments: '{}' } }] }]);
  });

  it('prefers input.value, then GenAI messages, then the flattened forms; system instructions lead the GenAI input', () => {
    const flattened = { 'llm.input_messages.0.message.role': 'user', 'llm.input_messages.0.message.content': 'flat' };
    const used = new Set<string>();
    expect(messagesIo({ ...flattened, 'input.value': 'plain' }, 'input', used)).toBe('plain');
    // The flattened form was not used: it stays for the metadata.
    expect(used.has('llm.input_messages.0.message.role')).toBe(false);
    const genAi = { ...flattened, 'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]' };
    expect(messagesIo(genAi, 'input', new Set())).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'hi' }] }]);
    expect(messagesIo({ ...genAi, 'gen_ai.system_instructions': '[{"type":"text","content":"Be kind"}]' }, 'input', new Set())).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be kind' }] },
      { role: 'user', parts: [{ type: 'text', content: 'hi' }] },
    ]);
    expect(messagesIo({ 'gen_ai.system_instructions': 'Be kind' }, 'input', new Set())).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be kind' }] },
    ]);
    expect(messagesIo({ 'gen_ai.retrieval.query.text': 'laptop stands' }, 'input', new Set())).toBe('laptop stands');
    expect(messagesIo({}, 'output', new Set())).toBeUndefined();
  });

  it('closes index gaps, ignores keys that are not numbered, and never builds __proto__', () => {
    expect(unflattened({ 'a.5.x': 1, 'a.2.x': 2, 'a.b': 3, 'a.1.__proto__.polluted': 4 }, 'a')).toEqual([{ x: 2 }, { x: 1 }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(unflattened({ 'b.0': 'x' }, 'a')).toBeUndefined();
  });
});

describe('GenAI retrieval documents as candidates', () => {
  it('makes gen_ai.retrieval.documents (structured or JSON text) accepted candidates ranked by position', () => {
    const expected = [
      { key: 'doc-1', decision: 'accepted', rank: 1, score: 0.8 },
      { key: 'doc-2', decision: 'accepted', rank: 2, score: 0.5, data: { content: 'text', metadata: { source: 'wiki' } } },
    ];
    const docs: OtlpValue[] = [{ id: 'doc-1', score: 0.8 }, { id: 'doc-2', score: 0.5, content: 'text', source: 'wiki' }, 'not a document'];
    expect(documentCandidates({ 'gen_ai.retrieval.documents': docs })).toEqual(expected);
    expect(documentCandidates({ 'gen_ai.retrieval.documents': JSON.stringify(docs) })).toEqual(expected);
    expect(documentCandidates({ 'gen_ai.retrieval.documents': 'not json' })).toEqual([]);
  });
});
