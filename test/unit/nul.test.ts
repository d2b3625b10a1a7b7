import { describe, expect, it } from 'vitest';
import { containsNul, withoutNul } from '../../src/nul.js';

describe('withoutNul', () => {
  it('replaces every NUL in nested strings and keys with U+FFFD', () => {
    const value = {
      email: 'ada\u0000@example.com',
      list: ['ok', '\u0000\u0000', 3, null, true],
      nested: { 'key\u0000': { deep: ['x\u0000y'] } },
    };
    expect(withoutNul(value)).toEqual({
      email: 'ada\uFFFD@example.com',
      list: ['ok', '\uFFFD\uFFFD', 3, null, true],
      nested: { 'key\uFFFD': { deep: ['x\uFFFDy'] } },
    });
    expect(containsNul(withoutNul(value))).toBe(false);
    // The input is left as it was.
    expect(value.email).toBe('ada\u0000@example.com');
  });

  it('returns the very same object when there is nothing to replace', () => {
    const clean = { a: 'text', b: [1, { c: 'Zoë — café' }], d: null };
    expect(withoutNul(clean)).toBe(clean);
    expect(withoutNul('plain')).toBe('plain');
  });

  it('copies only the branches that held a NUL', () => {
    const untouched = { c: 'fine' };
    const value = { dirty: 'a\u0000', untouched };
    const clean = withoutNul(value);
    expect(clean).not.toBe(value);
    expect(clean.untouched).toBe(untouched);
  });
});

describe('containsNul', () => {
  it('finds a NUL in a string, an array item, a value or a key, and only there', () => {
    expect(containsNul('a\u0000')).toBe(true);
    expect(containsNul([1, ['\u0000']])).toBe(true);
    expect(containsNul({ a: { b: 'x\u0000' } })).toBe(true);
    expect(containsNul({ 'k\u0000': 1 })).toBe(true);
    expect(containsNul({ a: '\\u0000', b: [1, 'u0000'], c: null })).toBe(false);
  });
});
