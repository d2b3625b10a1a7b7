import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FIELD_LIMITS, indexableKey, longerThan } from '../../src/field-limits.js';

describe('indexableKey', () => {
  it('keeps a key of up to 256 bytes as it is', () => {
    expect(indexableKey('sg_event_id_123')).toBe('sg_event_id_123');
    expect(indexableKey('k'.repeat(FIELD_LIMITS.key))).toBe('k'.repeat(256));
  });

  it('replaces a longer key, counted in UTF-8 bytes, by its SHA-256, the same every time', () => {
    const long = 'k'.repeat(257);
    const hex = createHash('sha256').update(long).digest('hex');
    expect(indexableKey(long)).toBe(`sha256:${hex}`);
    expect(indexableKey(long)).toBe(indexableKey(`${'k'.repeat(256)}k`));
    expect(indexableKey(long)).not.toBe(indexableKey('k'.repeat(258)));
    // 100 characters but 300 bytes.
    expect(indexableKey('é'.repeat(150))).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(indexableKey('é'.repeat(128))).toBe('é'.repeat(128));
  });
});

describe('longerThan', () => {
  it('counts UTF-8 bytes and treats null and empty as short', () => {
    expect(longerThan(null, 1)).toBe(false);
    expect(longerThan(undefined, 1)).toBe(false);
    expect(longerThan('', 0)).toBe(false);
    expect(longerThan('a'.repeat(320), FIELD_LIMITS.recipient)).toBe(false);
    expect(longerThan('a'.repeat(321), FIELD_LIMITS.recipient)).toBe(true);
    expect(longerThan('€'.repeat(107), FIELD_LIMITS.recipient)).toBe(true);
    expect(longerThan('€'.repeat(106), FIELD_LIMITS.recipient)).toBe(false);
  });
});
