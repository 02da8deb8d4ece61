import { checkJson } from './json-limits.js';

describe('checkJson', () => {
  const limits = { maxDepth: 4, maxStringLength: 10 };

  it('passes bodies within the limits', () => {
    expect(checkJson({ candidates: [{ key: 'a', data: { x: [1, 'short'] } }] }, { ...limits, maxDepth: 5 })).toBeUndefined();
  });

  it('names where a body breaks a limit', () => {
    expect(checkJson({ a: [{ b: 'x'.repeat(11) }] }, limits)).toEqual({ kind: 'string', path: 'a[0].b' });
    expect(checkJson({ a: ['ok', 'y'.repeat(11)] }, limits)).toEqual({ kind: 'string', path: 'a[1]' });
    expect(checkJson({ a: { b: { c: { d: {} } } } }, limits)).toEqual({ kind: 'depth', path: 'a.b.c.d' });
    expect(checkJson(JSON.parse('{"a": {"__proto__": {"x": 1}}}'), limits)).toEqual({ kind: 'proto', path: 'a.__proto__' });
    expect(checkJson({ ['k'.repeat(11)]: 1 }, limits)).toEqual({ kind: 'string', path: '' });
  });
});
