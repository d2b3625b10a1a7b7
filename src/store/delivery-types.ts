import type { CanonicalEvent } from '../events.js';
import type { ClaimOptions } from './store.js';

/** Domain records of the delivery half, as the Store reads and writes them. */

export type EndpointStatus = 'active' | 'paused' | 'disabled';

export interface EndpointSecret {
  secret: string;
  /** When an old secret stops signing (rotation grace); null for the current one. */
  expiresAt: Date | null;
}

export interface EndpointRecord {
  id: string;
  url: string;
  description: string;
  /** Exact types and wildcards (`email.*`); empty means every type. */
  eventTypes: string[];
  filter: Record<string, unknown> | null;
  headers: Record<string, string>;
  /** Newest first. */
  secrets: EndpointSecret[];
  status: EndpointStatus;
  statusReason: string | null;
  /** Deliveries per second; null = unlimited. */
  rateLimit: number | null;
  maxConcurrency: number;
  consecutiveFailures: number;
  firstFailureAt: Date | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EndpointPatch {
  url?: string;
  description?: string;
  eventTypes?: string[];
  filter?: Record<string, unknown> | null;
  headers?: Record<string, string>;
  secrets?: EndpointSecret[];
  status?: EndpointStatus;
  statusReason?: string | null;
  rateLimit?: number | null;
  maxConcurrency?: number;
  /** Clears the failure streak (on resume / re-enable). */
  resetFailures?: boolean;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';
export type DeliveryOrigin = 'event' | 'replay' | 'redeliver' | 'test';

export interface DeliveryRecord {
  id: string;
  eventId: string;
  endpointId: string;
  origin: DeliveryOrigin;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

export interface NewDelivery {
  id: string;
  eventId: string;
  endpointId: string;
  origin: DeliveryOrigin;
  /** '' for fan-out; otherwise what makes this extra delivery unique (replay id, redelivery id). */
  dedupe: string;
  /** Only for events that are not stored (test sends). */
  payload?: string;
  nextAttemptAt: Date;
  /** The W3C traceparent of the ingest span the event came from (src/tracing/), when traced. */
  trace?: string;
}

/**
 * One claim of due deliveries. The store finds the active endpoints that have due deliveries no live
 * lease holds, hands them to `plan` once (the worker divides its pool among them and the endpoints
 * it has attempts in flight to), then asks `slots` for each of them only, and claims at most that
 * many of each — oldest due first within an endpoint, round-robin across endpoints, `limit` in all.
 */
export interface FairClaimOptions extends ClaimOptions {
  plan?: (due: readonly EndpointRecord[]) => void;
}

/** A delivery claimed under a lease, with what the worker needs to send it. */
export interface ClaimedDelivery {
  delivery: DeliveryRecord;
  endpoint: EndpointRecord;
  /** The canonical event JSON, exactly as stored. */
  payload: string;
  leaseOwner: string;
  /** The W3C traceparent its attempt spans are children of (NewDelivery.trace), when traced. */
  trace?: string;
}

export interface AttemptRecord {
  id: string;
  deliveryId: string;
  endpointId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  ok: boolean;
  httpStatus: number | null;
  errorClass: string | null;
  error: string | null;
  responseSnippet: string | null;
}

/** What the worker decided after one attempt; the store applies it in one transaction per batch. */
export interface AttemptResult {
  attempt: AttemptRecord;
  leaseOwner: string;
  /** `pending` with nextAttemptAt to retry, or a final status. */
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
  /** Disable the endpoint (410 Gone, or failures past the grace period). */
  disableEndpoint: string | null;
}

export interface DeliveryQuery {
  endpointId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  limit: number;
  /** Id of the last delivery returned; newest first. */
  cursor?: string;
}

export interface ReplayRecord {
  id: string;
  endpointId: string;
  since: Date;
  until: Date;
  types: string[];
  status: 'running' | 'done';
  scanned: number;
  enqueued: number;
  skipped: number;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** How the pipeline routes a new event; pure, supplied by the caller so the store knows no rule. */
export type RouteEvent = (event: CanonicalEvent, endpoints: EndpointRecord[]) => EndpointRecord[];

/** Picks, from one page of a replay's events, those the endpoint should receive. */
export type ReplaySelect = (
  events: CanonicalEvent[],
  endpoint: EndpointRecord,
  types: string[],
) => CanonicalEvent[];

/** A change in an endpoint's health that an attempt caused; it becomes a `system.*` event. */
export interface EndpointTransition {
  kind: 'failing' | 'disabled' | 'recovered' | 'exhausted';
  endpointId: string;
  /** The delivery (and its event) behind the transition. */
  deliveryId: string;
  eventId: string;
  consecutiveFailures: number;
  reason: string | null;
  at: Date;
}

/**
 * When recorded attempts raise `failing` and `recovered` (src/delivery/health-alerts.ts decides, with
 * its defaults for whatever is left out here).
 */
export interface RecordOptions {
  /** Consecutive failures after which an endpoint that is `ok` raises `failing`. */
  failingAfter: number;
  /** Successes in a row before a `failing` endpoint raises `recovered` (default: failingAfter)… */
  recoverAfterSuccesses?: number;
  /** …and for at least this long since the first of them. */
  recoverAfterMs?: number;
  /** Least time between two alert changes of one endpoint; a change held back is raised later. */
  minDwellMs?: number;
}

/** The health alert an endpoint last raised: `failing` from system.endpoint.failing until recovered. */
export type EndpointAlertState = 'ok' | 'failing';

/**
 * What the store keeps per endpoint (migration 008) so that failing/recovered is decided in the
 * same transaction that records the attempt, once, whichever node records it.
 */
export interface EndpointAlertCounters {
  /**
   * null: not decided since migration 008, which left endpoints that were in a failure streak
   * undecided; the next attempt derives the state as the rule before it did (streak ≥ failingAfter).
   */
  state: EndpointAlertState | null;
  /** When the state last changed (the last failing/recovered raised); null: never. */
  changedAt: Date | null;
  consecutiveFailures: number;
  /** Successful attempts since the last failure. */
  successStreak: number;
  /** When the first of those successes started. */
  streakStartedAt: Date | null;
}

/** A manual retry: the delivery made due now, or why not. */
export type RetryResult = DeliveryRecord | 'not_found' | 'in_flight' | 'endpoint_deleted';
