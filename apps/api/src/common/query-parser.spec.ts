import { parseQuery } from './query-parser.js';

describe('parseQuery', () => {
  it('nests metadata filters written with a dot or as an OpenAPI deepObject', () => {
    expect(parseQuery('metadata.customer=acme&metadata[region]=eu&limit=5')).toEqual({ metadata: { customer: 'acme', region: 'eu' }, limit: '5' });
  });

  it('keeps a repeated metadata key as a list, so validation can refuse it', () => {
    expect(parseQuery('metadata[customer]=a&metadata.customer=b')).toEqual({ metadata: { customer: ['a', 'b'] } });
  });

  it('nests score filters the same way, keeping the condition after the first = whole', () => {
    expect(parseQuery('score[relevance]=>=0.8&score.verdict=good&score[x.y]==1')).toEqual({ score: { relevance: '>=0.8', verdict: 'good', 'x.y': '=1' } });
  });

  it('nests nothing else: brackets on other names stay part of the name', () => {
    expect(parseQuery('tag[x]=1&__proto__[polluted]=1')).toEqual({ 'tag[x]': '1', '__proto__[polluted]': '1' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
