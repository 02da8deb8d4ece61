import { spanLlmFields } from './otlp-llm.js';

describe('OTLP LLM attributes', () => {
  it.each([
    [
      'GenAI conventions',
      {
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.provider.name': 'openai',
        'gen_ai.usage.input_tokens': 1200,
        'gen_ai.usage.output_tokens': '340',
        'gen_ai.usage.cache_read.input_tokens': 1024,
        'gen_ai.usage.cache_creation.input_tokens': 0,
        'gen_ai.request.temperature': 0.2,
        'gen_ai.request.max_tokens': 512,
        'gen_ai.request.top_p': 0.9,
      },
      {
        model: 'gpt-4o-2024-08-06',
        provider: 'openai',
        usage: { input: 1200, output: 340, cacheRead: 1024, cacheWrite: 0 },
        modelParameters: { temperature: 0.2, max_tokens: 512, top_p: 0.9 },
      },
    ],
    [
      'older GenAI (gen_ai.system, prompt/completion tokens)',
      { 'gen_ai.request.model': 'claude-3-5-sonnet', 'gen_ai.system': 'anthropic', 'gen_ai.usage.prompt_tokens': 10, 'gen_ai.usage.completion_tokens': 5 },
      { model: 'claude-3-5-sonnet', provider: 'anthropic', usage: { input: 10, output: 5 } },
    ],
    [
      'OpenInference',
      {
        'llm.model_name': 'gpt-4o-mini',
        'llm.provider': 'openai',
        'llm.system': 'openai',
        'llm.token_count.prompt': 30,
        'llm.token_count.completion': 12,
        'llm.token_count.total': 42,
        'llm.token_count.prompt_details.cache_read': 16,
        'llm.token_count.completion_details.reasoning': 4,
        'llm.cost.total': 0.0012,
        'llm.invocation_parameters': '{"temperature": 0, "max_tokens": 64}',
      },
      {
        model: 'gpt-4o-mini',
        provider: 'openai',
        usage: { input: 30, output: 12, total: 42, cacheRead: 16, reasoning: 4 },
        costUsd: 0.0012,
        modelParameters: { temperature: 0, max_tokens: 64 },
      },
    ],
    ['OpenInference prompt and completion costs', { 'llm.cost.prompt': 0.25, 'llm.cost.completion': 0.5 }, { costUsd: 0.75 }],
    ['nothing LLM', { 'http.method': 'GET' }, {}],
  ])('maps %s', (_name, attributes, expected) => {
    expect(spanLlmFields(attributes).fields).toEqual(expected);
  });

  it('marks what it used, and leaves unusable values (and what it did not use) in metadata', () => {
    const { fields, mapped } = spanLlmFields({
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': -3,
      'llm.token_count.prompt': 7,
      'gen_ai.usage.output_tokens': 1.5,
      'llm.cost.total': 'free',
      'llm.invocation_parameters': 'not json',
      'gen_ai.provider.name': '   ',
    });
    expect(fields).toEqual({ model: 'gpt-4o-2024-08-06', usage: { input: 7 } });
    expect([...mapped].sort()).toEqual(['gen_ai.response.model', 'llm.token_count.prompt']);
  });

  it('leaves both attributes out of metadata when two sources agree', () => {
    const { mapped } = spanLlmFields({ 'llm.provider': 'openai', 'llm.system': 'openai', 'gen_ai.usage.input_tokens': 5, 'llm.token_count.prompt': 5 });
    expect([...mapped].sort()).toEqual(['gen_ai.usage.input_tokens', 'llm.provider', 'llm.system', 'llm.token_count.prompt']);
  });
});
