import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { STORED_KEY_MAX_BYTES, sqliteDedupKey, storedDedupKey } from '../../../src/store/dedup-key.js';

describe('stored dedup keys', () => {
  it('keeps keys of up to 32 UTF-8 bytes as they are', () => {
    for (const key of [
      '',
      'sg_abc',
      'x'.repeat(32),
      'é'.repeat(16),
      '20aebd7c-4f5b-4a3c-9a1e-5c8f7b3d2e1a'.slice(0, 32),
    ])
      expect(storedDedupKey(key)).toBe(key);
  });

  it('stores longer keys as # and the first 32 hex digits of their SHA-256, counting bytes, not characters', () => {
    const postmark = `Delivery:sha256:${'9dc7ea72da22d4bb'.repeat(4)}`;
    for (const key of [postmark, 'x'.repeat(33), 'é'.repeat(17), '🙂'.repeat(9)]) {
      expect(Buffer.byteLength(key)).toBeGreaterThan(STORED_KEY_MAX_BYTES);
      const stored = storedDedupKey(key);
      expect(stored).toBe(`#${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32)}`);
      expect(stored).toHaveLength(33);
      // A digest is never a key stored as it is (those have at most 32 bytes), nor digested again.
      expect(Buffer.byteLength(stored)).toBeGreaterThan(STORED_KEY_MAX_BYTES);
    }
    expect(storedDedupKey('é'.repeat(17))).not.toBe(storedDedupKey('é'.repeat(18)));
  });

  it('gives SQLite the same rule with a digest as its 16 bytes', () => {
    for (const key of ['', 'sg_abc', 'x'.repeat(32), 'é'.repeat(16)]) expect(sqliteDedupKey(key)).toBe(key);
    for (const key of [`Delivery:sha256:${'ab'.repeat(32)}`, 'x'.repeat(33), '🙂'.repeat(9)]) {
      const stored = sqliteDedupKey(key);
      expect(Buffer.isBuffer(stored)).toBe(true);
      expect(`#${(stored as Buffer).toString('hex')}`).toBe(storedDedupKey(key));
    }
  });
});
