import { withoutNul } from './runner';

describe('withoutNul', () => {
  it('replaces NUL in JSON text, in values and keys, and nothing else', () => {
    const value = { a: 'x\u0000y', 'k\u0000': ['\u0000'], b: 'back\\u0000slash', c: '\\\u0000', d: 'plain' };
    const out = JSON.parse(withoutNul(JSON.stringify(value)));
    expect(out).toEqual({ a: 'x\ufffdy', 'k\ufffd': ['\ufffd'], b: 'back\\u0000slash', c: '\\\ufffd', d: 'plain' });
    const clean = JSON.stringify({ a: 1 });
    expect(withoutNul(clean)).toBe(clean);
  });
});
