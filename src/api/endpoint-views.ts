import type { AttemptRecord, DeliveryRecord, EndpointRecord, ReplayRecord } from '../store/store.js';

/** Public JSON shapes of the delivery resources. Secrets never appear here. */

/**
 * What every endpoint answer shows instead of a custom header's value. Custom headers are how
 * receivers authenticate mailhook (API keys, basic auth, tenant tokens), and no name pattern tells
 * them all apart, so only names are shown; `GET /v1/endpoints/:id/headers` is the explicit reveal.
 */
export const MASKED_HEADER_VALUE = '[redacted]';

function headersView(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((name) => [name, MASKED_HEADER_VALUE]));
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function endpointView(e: EndpointRecord) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    event_types: e.eventTypes,
    filter: e.filter,
    headers: headersView(e.headers),
    status: e.status,
    status_reason: e.statusReason,
    rate_limit: e.rateLimit,
    max_concurrency: e.maxConcurrency,
    consecutive_failures: e.consecutiveFailures,
    last_success_at: iso(e.lastSuccessAt),
    last_failure_at: iso(e.lastFailureAt),
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

export function deliveryView(d: DeliveryRecord) {
  return {
    id: d.id,
    event_id: d.eventId,
    endpoint_id: d.endpointId,
    origin: d.origin,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: iso(d.nextAttemptAt),
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
    completed_at: iso(d.completedAt),
  };
}

export function attemptView(a: AttemptRecord) {
  return {
    id: a.id,
    attempt: a.attempt,
    started_at: a.startedAt.toISOString(),
    duration_ms: a.durationMs,
    ok: a.ok,
    http_status: a.httpStatus,
    error_class: a.errorClass,
    error: a.error,
    response_snippet: a.responseSnippet,
  };
}

export function replayView(r: ReplayRecord) {
  return {
    id: r.id,
    endpoint_id: r.endpointId,
    since: r.since.toISOString(),
    until: r.until.toISOString(),
    types: r.types,
    status: r.status,
    scanned: r.scanned,
    enqueued: r.enqueued,
    skipped: r.skipped,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    finished_at: iso(r.finishedAt),
  };
}
