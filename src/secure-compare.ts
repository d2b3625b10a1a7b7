import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality for secrets a caller presents (tokens, keys). Both sides are hashed with
 * SHA-256 first, so `timingSafeEqual` always compares 32 bytes: neither where the first difference is
 * nor how long the expected secret is can be learnt from the time an answer takes. A neutral module
 * (no area's insides), so any area can use it: monitoring today, providers and api later.
 */
export function secureEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
