import { TokenGuard } from '../../src/ingest/token-guard.js';
import type { VerifyContext } from '../../src/providers/types.js';

/**
 * A complete VerifyContext for adapter tests: a fixed or given clock, a real token guard, and
 * fetch/certificate functions that fail unless a test supplies its own.
 */
export function verifyContext(overrides: Partial<VerifyContext> = {}): VerifyContext {
  const guard = new TokenGuard();
  const now = overrides.now ?? new Date();
  return {
    now,
    toleranceSec: 300,
    ingestUrl: 'https://hooks.example.com/ingest/src_test',
    claimToken: (key, ttlMs) => guard.claim(key, ttlMs, now.getTime()),
    snsCertificate: async () => {
      throw new Error('no certificate available in this test');
    },
    fetch: async () => {
      throw new Error('no network in this test');
    },
    ...overrides,
  };
}
