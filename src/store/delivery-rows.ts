import type {
  AttemptRecord,
  ClaimedDelivery,
  DeliveryRecord,
  EndpointAlertCounters,
  EndpointAlertState,
  EndpointRecord,
  EndpointSecret,
  ReplayRecord,
  RetryResult,
} from './delivery-types.js';

/** Column shapes of the delivery tables and their mapping to domain records. */

export interface EndpointRow {
  id: string;
  url: string;
  description: string;
  event_types: string;
  filter: string | null;
  headers: string;
  secrets: string;
  status: EndpointRecord['status'];
  status_reason: string | null;
  rate_limit: number | null;
  max_concurrency: number;
  consecutive_failures: number;
  first_failure_at: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  created_at: number;
  updated_at: number;
}

/** The endpoint columns behind its health alerts (migration 008). */
export interface EndpointAlertRow {
  consecutive_failures: number;
  alert_state: EndpointAlertState | null;
  alert_changed_at: number | null;
  success_streak: number;
  success_streak_started_at: number | null;
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  endpoint_id: string;
  origin: DeliveryRecord['origin'];
  status: DeliveryRecord['status'];
  attempts: number;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  trace: string | null;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  endpoint_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  ok: number;
  http_status: number | null;
  error_class: string | null;
  error: string | null;
  response_snippet: string | null;
}

export interface ReplayRow {
  id: string;
  endpoint_id: string;
  since: number;
  until: number;
  types: string;
  status: ReplayRecord['status'];
  scanned: number;
  enqueued: number;
  skipped: number;
  cursor: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
export const msOrNull = (date: Date | null | undefined): number | null => (date ? date.getTime() : null);

export function secretsToJson(secrets: EndpointSecret[]): string {
  return JSON.stringify(secrets.map((s) => ({ secret: s.secret, expires_at: msOrNull(s.expiresAt) })));
}

export function endpointFrom(row: EndpointRow): EndpointRecord {
  const secrets = JSON.parse(row.secrets) as Array<{ secret: string; expires_at: number | null }>;
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    filter: row.filter === null ? null : (JSON.parse(row.filter) as Record<string, unknown>),
    headers: JSON.parse(row.headers) as Record<string, string>,
    secrets: secrets.map((s) => ({ secret: s.secret, expiresAt: dateOrNull(s.expires_at) })),
    status: row.status,
    statusReason: row.status_reason,
    rateLimit: row.rate_limit,
    maxConcurrency: row.max_concurrency,
    consecutiveFailures: row.consecutive_failures,
    firstFailureAt: dateOrNull(row.first_failure_at),
    lastSuccessAt: dateOrNull(row.last_success_at),
    lastFailureAt: dateOrNull(row.last_failure_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function alertCountersFrom(row: EndpointAlertRow): EndpointAlertCounters {
  return {
    state: row.alert_state,
    changedAt: dateOrNull(row.alert_changed_at),
    consecutiveFailures: row.consecutive_failures,
    successStreak: row.success_streak,
    streakStartedAt: dateOrNull(row.success_streak_started_at),
  };
}

/** A leased row as the delivery worker takes it: with its endpoint, the JSON to send and its trace. */
export function claimedFrom(
  row: DeliveryRow,
  endpoint: EndpointRecord,
  payload: string,
  leaseOwner: string,
): ClaimedDelivery {
  const item: ClaimedDelivery = { delivery: deliveryFrom(row), endpoint, payload, leaseOwner };
  if (row.trace) item.trace = row.trace;
  return item;
}

export function deliveryFrom(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    endpointId: row.endpoint_id,
    origin: row.origin,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: dateOrNull(row.next_attempt_at),
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    completedAt: dateOrNull(row.completed_at),
  };
}

export function attemptFrom(row: AttemptRow): AttemptRecord {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    endpointId: row.endpoint_id,
    attempt: row.attempt,
    startedAt: new Date(row.started_at),
    durationMs: row.duration_ms,
    ok: row.ok === 1,
    httpStatus: row.http_status,
    errorClass: row.error_class,
    error: row.error,
    responseSnippet: row.response_snippet,
  };
}

export function replayFrom(row: ReplayRow): ReplayRecord {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    since: new Date(row.since),
    until: new Date(row.until),
    types: JSON.parse(row.types) as string[],
    status: row.status,
    scanned: row.scanned,
    enqueued: row.enqueued,
    skipped: row.skipped,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    finishedAt: dateOrNull(row.finished_at),
  };
}

/** What a refused manual retry found: whether the delivery's endpoint was deleted. */
export interface RetryRefusal {
  deleted_at: number | null;
}

export function whyNotRetried(row: RetryRefusal | undefined): RetryResult {
  if (!row) return 'not_found';
  if (row.deleted_at !== null) return 'endpoint_deleted';
  // The update found the lease active: the attempt may have finished between it and this read, but
  // the delivery exists, and "in flight, try again" is the true answer for the moment it was asked.
  return 'in_flight';
}

/** Shuffles in place (Fisher–Yates): claims visit endpoints in random order, so no backlog always goes first. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
