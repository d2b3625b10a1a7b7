import type { CanonicalEvent } from '../events.js';

/** The JSON shapes of the /v1 API as the typed client returns them (see README "API"). */

export type { CanonicalEvent };

export interface List<T> {
  data: T[];
}

export interface Page<T> extends List<T> {
  next_cursor: string | null;
}

export interface Source {
  id: string;
  name: string;
  provider: string;
  enabled: boolean;
  ingest_url: string;
  /** What to paste where in the provider's dashboard. */
  setup: string;
  /** Names of the configured credentials; their values are never returned. */
  config_keys: string[];
  state: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface SourceInput {
  name: string;
  provider: string;
  config?: Record<string, unknown>;
  enabled?: boolean;
}

export type SourcePatch = Partial<Omit<SourceInput, 'provider'>>;

export type EndpointStatus = 'active' | 'paused' | 'disabled';

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  filter: Record<string, unknown> | null;
  /** Custom header names; every value comes back as `[redacted]` (`endpoints.headers(id)` reveals them). */
  headers: Record<string, string>;
  status: EndpointStatus;
  status_reason: string | null;
  rate_limit: number | null;
  max_concurrency: number;
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Creation is the one answer that carries the signing secret (besides `endpoints.secret`). */
export interface CreatedEndpoint extends Endpoint {
  secret: string;
}

export interface EndpointInput {
  url: string;
  description?: string;
  event_types?: string[] | null;
  filter?: Record<string, unknown> | null;
  headers?: Record<string, string>;
  secret?: string;
  rate_limit?: number | null;
  max_concurrency?: number;
  status?: 'active' | 'paused';
}

export type EndpointPatch = Partial<Omit<EndpointInput, 'secret' | 'status'>>;

export interface EndpointSecret {
  secret: string | null;
  previous: Array<{ secret: string; expires_at: string | null }>;
}

/** The explicit reveal of an endpoint's custom header values: lower-cased name → value. */
export interface EndpointHeaders {
  headers: Record<string, string>;
}

export interface EndpointHealth {
  endpoint_id: string;
  state: string;
  [key: string]: unknown;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface Delivery {
  id: string;
  event_id: string;
  endpoint_id: string;
  origin: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface Attempt {
  id: string;
  attempt: number;
  started_at: string;
  duration_ms: number;
  ok: boolean;
  http_status: number | null;
  error_class: string | null;
  error: string | null;
  response_snippet: string | null;
}

/** GET /v1/deliveries/:id: `attempts` is the attempt log here, not a count. */
export interface DeliveryWithAttempts extends Omit<Delivery, 'attempts'> {
  attempts: Attempt[];
}

export interface Replay {
  id: string;
  endpoint_id: string;
  since: string;
  until: string;
  types: string[];
  status: 'running' | 'done';
  scanned: number;
  enqueued: number;
  skipped: number;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /**
   * In the answer that starts a replay reaching back past the events' retention: the events of the
   * range before `before` that are no longer kept (from the hourly stats, so close, not exact).
   */
  not_kept?: { before: string; events: number };
}

/** What started a reconciliation: the API (`mailhook reconcile`) or the server on its own. */
export type ReconciliationTrigger = 'api' | 'startup' | 'silent' | 'schedule';

/** A reconciliation: a time range of a source's events read back from its provider's event API. */
export interface Reconciliation {
  id: string;
  source_id: string;
  trigger: ReconciliationTrigger;
  status: 'running' | 'done' | 'failed';
  since: string;
  until: string;
  /** API pages read so far. */
  pages: number;
  /** Events read from the API. */
  found: number;
  /** Of those, events mailhook had not stored (recovered, and delivered like webhook events). */
  new: number;
  /** Of those, events already stored (their webhook arrived). */
  duplicates: number;
  /** API items that are not email events mailhook knows. */
  skipped: number;
  /** Why the job failed (status "failed"). */
  error?: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface TestSend {
  delivery_id: string;
  event: CanonicalEvent;
}

export interface EventQuery {
  type?: string;
  recipient?: string;
  message_id?: string;
  source_id?: string;
  /** ISO 8601 or Unix seconds; inclusive. */
  since?: string;
  /** ISO 8601 or Unix seconds; exclusive. */
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface SuppressionReason {
  email: string;
  scope: string;
  reason: string;
  detail: string | null;
  event_id: string | null;
  source_id: string | null;
  created_at: string;
}

export interface SuppressionAnswer {
  email: string;
  suppressed: boolean;
  reasons: SuppressionReason[];
}

export interface SuppressionQuery {
  reason?: string;
  scope?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

export interface MessageTimeline {
  message_id: string;
  status: string;
  events: CanonicalEvent[];
}

export interface StatsQuery {
  since?: string;
  until?: string;
  group_by?: 'type' | 'provider' | 'source' | 'day' | 'recipient_domain';
  source_id?: string;
}

export interface StatsGroup {
  group: string | null;
  counts: Record<string, number>;
  unique_messages: Record<string, number>;
  rates: Record<'delivery' | 'bounce' | 'complaint' | 'open' | 'click' | 'unsubscribe', number | null>;
}

export interface Stats {
  since: string;
  until: string;
  group_by: string;
  groups: StatsGroup[];
}

/** What `publish` accepts: a canonical event without the fields mailhook fills in. */
export interface PublishInput {
  type: string;
  timestamp?: string;
  idempotency_key?: string;
  data: Record<string, unknown> & { recipient: string };
}

export interface ApiKey {
  id: string;
  name: string;
  created_at: string;
  /** True for the key this request was made with. */
  current: boolean;
}

export interface CreatedApiKey extends ApiKey {
  /** The plaintext key: shown once, never again. */
  key: string;
}
