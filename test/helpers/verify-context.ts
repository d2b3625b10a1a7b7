import type { VerifyContext } from '../../src/providers/types.js';

/**
 * A complete VerifyContext for adapter tests: a fixed or given clock, and
 * fetch/certificate functions that fail unless a test supplies its own.
 */
export function verifyContext(overrides: Partial<VerifyContext> = {}): VerifyContext {
  const now = overrides.now ?? new Date();
  return {
    now,
    toleranceSec: 300,
    ingestUrl: 'https://hooks.example.com/ingest/src_test',
    snsCertificate: async () => {
      throw new Error('no certificate available in this test');
    },
    fetch: async () => {
      throw new Error('no network in this test');
    },
    ...overrides,
  };
}
