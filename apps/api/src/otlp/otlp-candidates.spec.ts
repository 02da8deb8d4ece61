import { candidatesOf, documentCandidates, isDocumentAttribute } from './otlp-candidates.js';

describe('candidates from OpenInference document lists', () => {
  it('accepts every retrieved document, ranked by position, with its score and content', () => {
    expect(
      candidatesOf({
        'retrieval.documents.1.document.id': 'b',
        'retrieval.documents.1.document.score': 0.5,
        'retrieval.documents.0.document.id': 'a',
        'retrieval.documents.0.document.score': 0.9,
        'retrieval.documents.0.document.content': 'first',
        'retrieval.documents.0.document.metadata': '{"source":"faq"}',
        'retrieval.documents.2.document.content': 'no id',
        'retrieval.documents.3.document.score': 0.1,
      }),
    ).toEqual([
      { key: 'a', decision: 'accepted', rank: 1, score: 0.9, data: { content: 'first', metadata: { source: 'faq' } } },
      { key: 'b', decision: 'accepted', rank: 2, score: 0.5 },
      { key: expect.stringMatching(/^content:/), decision: 'accepted', rank: 3, data: { content: 'no id' } },
      { key: '3', decision: 'accepted', rank: 4, score: 0.1 },
    ]);
  });

  it("selects a reranker's output documents and rejects the inputs it cut, naming the cut", () => {
    const attributes = {
      'reranker.top_k': 1,
      'reranker.input_documents.0.document.id': 'a',
      'reranker.input_documents.0.document.score': 0.2,
      'reranker.input_documents.1.document.id': 'b',
      'reranker.input_documents.1.document.score': 0.1,
      'reranker.output_documents.0.document.id': 'b',
      'reranker.output_documents.0.document.score': 0.95,
    };
    expect(candidatesOf(attributes)).toEqual([
      { key: 'b', decision: 'selected', rank: 1, score: 0.95 },
      { key: 'a', decision: 'rejected', reason: "not in the reranker's top 1", score: 0.2 },
    ]);
  });

  it('matches reranked documents without ids by content, and gives nothing for spans without documents', () => {
    const attributes = {
      'reranker.input_documents.0.document.content': 'x',
      'reranker.input_documents.1.document.content': 'y',
      'reranker.output_documents.0.document.content': 'y',
    };
    const [selected, rejected, ...rest] = documentCandidates(attributes);
    expect(rest).toEqual([]);
    expect(selected).toMatchObject({ decision: 'selected', rank: 1, data: { content: 'y' }, key: expect.stringMatching(/^content:[0-9a-f]{16}$/) });
    expect(rejected).toMatchObject({ decision: 'rejected', data: { content: 'x' }, reason: "not among the reranker's 1 output documents" });
    expect(rejected.key).not.toBe(selected.key);
    expect(candidatesOf({ 'input.value': 'q' })).toEqual([]);
    expect(isDocumentAttribute('retrieval.documents.3.document.id')).toBe(true);
    expect(isDocumentAttribute('retrieval.query')).toBe(false);
  });

  it('takes explicit decisions from xray.candidates, winning over derived ones of the same key', () => {
    const explicit = [
      { key: 'a', decision: 'rejected', reason: 'out of stock' },
      { key: 'z', decision: 'selected' },
    ];
    expect(
      candidatesOf({
        'xray.candidates': JSON.stringify(explicit),
        'retrieval.documents.0.document.id': 'a',
        'retrieval.documents.1.document.id': 'b',
      }),
    ).toEqual([...explicit, { key: 'b', decision: 'accepted', rank: 2 }]);
    expect(candidatesOf({ 'xray.candidates': 'not json' })).toEqual([]);
  });
});
