import type { CanonicalEvent, SystemEventType } from '../events.js';
import { newId } from '../ids.js';
import type { EndpointTransition, PublishedEvent } from '../store/store.js';

/**
 * Operational events: mailhook's own `system.*` events, stored and delivered like any other event to
 * endpoints subscribed to them (`event_types: ["system.*"]`), and logged.
 */
export const SYSTEM_SOURCE_ID = 'src_system';

function systemEvent(
  type: SystemEventType,
  at: Date,
  metadata: Record<string, unknown>,
  dedupKey: string,
): PublishedEvent {
  const event: CanonicalEvent = {
    id: newId('event'),
    type,
    timestamp: at.toISOString(),
    data: {
      provider: 'mailhook',
      source_id: SYSTEM_SOURCE_ID,
      provider_event_id: null,
      message_id: null,
      recipient: null,
      user_agent: null,
      ip: null,
      tags: [],
      metadata,
      received_at: at.toISOString(),
      raw: null,
    },
  };
  return { event, dedupKey };
}

const KIND_TYPES: Record<EndpointTransition['kind'], SystemEventType> = {
  failing: 'system.endpoint.failing',
  disabled: 'system.endpoint.disabled',
  recovered: 'system.endpoint.recovered',
  exhausted: 'system.delivery.exhausted',
};

/** A delivery of a system event that exhausts its retries raises nothing, or a dead endpoint subscribed to system.* would feed itself. */
export function isSystemPayload(payload: string): boolean {
  return /^\{"id":"[^"]*","type":"system\./.test(payload);
}

export function endpointEvent(t: EndpointTransition): PublishedEvent {
  return systemEvent(
    KIND_TYPES[t.kind],
    t.at,
    {
      endpoint_id: t.endpointId,
      delivery_id: t.deliveryId,
      event_id: t.eventId,
      consecutive_failures: t.consecutiveFailures,
      reason: t.reason,
    },
    // The same transition reported twice (two nodes, a retried write) is stored once.
    `${t.kind}:${t.endpointId}:${t.deliveryId}`,
  );
}

export function sourceEvent(
  kind: 'silent' | 'recovered',
  source: { id: string; provider: string; name: string },
  details: { lastRequestAt: Date; expectedGapMs: number },
  at: Date,
): PublishedEvent {
  return systemEvent(
    kind === 'silent' ? 'system.source.silent' : 'system.source.recovered',
    at,
    {
      source_id: source.id,
      provider: source.provider,
      name: source.name,
      last_request_at: details.lastRequestAt.toISOString(),
      expected_gap_seconds: Math.round(details.expectedGapMs / 1000),
    },
    `${kind}:${source.id}:${details.lastRequestAt.getTime()}`,
  );
}

export interface ReconcileFailure {
  jobId: string;
  error: string;
  /** The API's answer when it refused (401, 403, 4xx, or the last 429/5xx); null for other failures. */
  httpStatus: number | null;
}

export function reconcileFailedEvent(
  source: { id: string; provider: string; name: string },
  failure: ReconcileFailure,
  at: Date,
): PublishedEvent {
  return systemEvent(
    'system.source.reconcile_failed',
    at,
    {
      source_id: source.id,
      provider: source.provider,
      name: source.name,
      reconciliation_id: failure.jobId,
      error: failure.error,
      http_status: failure.httpStatus,
    },
    `reconcile_failed:${failure.jobId}`,
  );
}
