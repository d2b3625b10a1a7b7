import * as crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { secureEqual } from '../../src/secure-compare.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

describe('secureEqual', () => {
  afterEach(() => vi.mocked(crypto.timingSafeEqual).mockClear());

  it('is true for equal strings and false for any difference, including length', () => {
    expect(secureEqual('metrics-token-0123456789', 'metrics-token-0123456789')).toBe(true);
    expect(secureEqual('', '')).toBe(true);
    expect(secureEqual('metrics-token-012345678X', 'metrics-token-0123456789')).toBe(false);
    expect(secureEqual('Xetrics-token-0123456789', 'metrics-token-0123456789')).toBe(false);
    expect(secureEqual('metrics-token-0123456789', 'metrics-token-01234567890')).toBe(false);
    expect(secureEqual('', 'metrics-token-0123456789')).toBe(false);
    expect(secureEqual('caf\u00e9', 'cafe\u0301')).toBe(false);
  });

  it('always compares two 32-byte digests in constant time, so lengths do not leak either', () => {
    for (const [a, b] of [
      ['short', 'a much longer expected secret value'],
      ['same-length-a', 'same-length-b'],
      ['x'.repeat(10_000), 'x'],
    ] as const) {
      expect(secureEqual(a, b)).toBe(false);
    }
    const calls = vi.mocked(crypto.timingSafeEqual).mock.calls;
    expect(calls).toHaveLength(3);
    for (const [left, right] of calls) {
      expect((left as Buffer).length).toBe(32);
      expect((right as Buffer).length).toBe(32);
    }
  });
});
