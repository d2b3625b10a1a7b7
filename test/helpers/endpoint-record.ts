import { newId } from '../../src/ids.js';
import type { EndpointRecord } from '../../src/store/store.js';

/** An active endpoint record as the store keeps it, created at `at`, with `overrides` applied. */
export function endpointRecord(
  overrides: Partial<EndpointRecord> = {},
  at: Date = new Date(),
): EndpointRecord {
  return {
    id: newId('endpoint'),
    url: 'https://hooks.example.com/mailhook',
    description: 'CRM sync',
    eventTypes: [],
    filter: null,
    headers: {},
    secrets: [{ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', expiresAt: null }],
    status: 'active',
    statusReason: null,
    rateLimit: null,
    maxConcurrency: 10,
    consecutiveFailures: 0,
    firstFailureAt: null,
    lastSuccessAt: null,
    lastFailureAt: null,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}
