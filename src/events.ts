/**
 * Glossary — the words the whole code base uses, with exactly these meanings.
 *
 * - source: one provider account that posts to mailhook (a SendGrid account, a Mailgun domain…). It
 *   has an id (`src_…`), a provider, write-only credentials (`config`) and its own ingest URL.
 * - raw request: the HTTP request a provider sent to a source's ingest URL, byte for byte.
 * - inbox: the durable table of verified raw requests. A row is `pending` until the pipeline turns it
 *   into events (`processed`) or fails to parse it (`quarantined`, kept for reprocessing).
 * - event: one canonical email event (the `CanonicalEvent` below), the same shape for every provider;
 *   or an event of the publisher's own type (`invoice.paid`), whose data is the publisher's, verbatim.
 * - dedup key: the provider's identity of an event (SendGrid `sg_event_id`, a Standard Webhooks
 *   `webhook-id`…). An event is stored at most once per source and dedup key.
 * - endpoint: a subscriber URL that receives events as signed webhooks.
 * - delivery: one event on its way to one endpoint; it succeeds, is retried, or fails.
 * - attempt: one HTTP POST of a delivery, with its outcome.
 * - suppression: an address mail must no longer be sent to, and why.
 */

export const EMAIL_EVENT_TYPES = [
  'email.sent',
  'email.delivered',
  'email.deferred',
  'email.bounced',
  'email.dropped',
  'email.failed',
  'email.opened',
  'email.clicked',
  'email.complained',
  'email.unsubscribed',
  'email.resubscribed',
] as const;

export type EmailEventType = (typeof EMAIL_EVENT_TYPES)[number];

const EMAIL_EVENT_TYPE_SET: ReadonlySet<string> = new Set(EMAIL_EVENT_TYPES);

export function isEmailEventType(type: string): type is EmailEventType {
  return EMAIL_EVENT_TYPE_SET.has(type);
}

/**
 * mailhook's own operational events (src/monitoring/system-events.ts). The `system.` namespace is
 * reserved: neither a publisher nor a provider can create an event there.
 */
export const SYSTEM_EVENT_TYPES = [
  'system.endpoint.failing',
  'system.endpoint.disabled',
  'system.endpoint.recovered',
  'system.delivery.exhausted',
  'system.source.silent',
  'system.source.recovered',
  'system.source.reconcile_failed',
] as const;

export type SystemEventType = (typeof SYSTEM_EVENT_TYPES)[number];

export function isReservedEventType(type: string): boolean {
  return type.startsWith('system.');
}

export type BounceType = 'hard' | 'soft' | 'undetermined';

export interface BounceInfo {
  type: BounceType;
  /** Enhanced status code (`5.1.1`) or SMTP code when the provider gives one. */
  code: string | null;
  reason: string | null;
}

export interface EventData {
  provider: string;
  source_id: string;
  provider_event_id: string | null;
  message_id: string | null;
  recipient: string | null;
  /** Only on `email.bounced` and `email.dropped`. */
  bounce?: BounceInfo;
  /** Only on `email.clicked`. */
  click?: { url: string | null };
  /** Only on `email.opened`: `machine` is true for opens made by privacy proxies (Apple MPP). */
  open?: { machine: boolean };
  /** Only on `email.unsubscribed` / `email.resubscribed`: the unsubscribe group, null when global. */
  unsubscribe?: { group: string | null };
  user_agent: string | null;
  ip: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  received_at: string;
  /**
   * How a provider's event reached mailhook: posted to its webhook, or read back from the provider's
   * event API by reconciliation (src/reconcile/). Absent on published and system events.
   */
  received_via?: 'webhook' | 'api';
  /** The provider's own event, as it was posted (or as its API returned it). */
  raw: unknown;
  /**
   * Only on an event of the publisher's own type (ownTypeData in canonical-input.ts): returns the
   * published data, so that what is stored, served and delivered is exactly that data. The fields
   * above are then a view the store indexes and the fan-out filters on, never sent. An own
   * enumerable property, so that the spreads which add provider and source keep it.
   */
  toJSON?: () => Record<string, unknown>;
}

export interface CanonicalEvent {
  id: string;
  type: string;
  /** When it happened at the provider (ISO 8601, UTC, milliseconds). */
  timestamp: string;
  /**
   * `email.*` and `system.*`: the canonical data. Any other type: the published data as it was
   * published, once stored (see EventData.toJSON), so code that reads stored events of any type
   * reads the filterable fields through routingFields, not field by field.
   */
  data: EventData;
}

/** Whether events of this type carry the publisher's own data rather than canonical email data. */
export function isOwnEventType(type: string): boolean {
  return !type.startsWith('email.') && !isReservedEventType(type);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * What endpoint filters read from an event's data, whatever its shape (and what the store indexes
 * of an own type's data): the top-level `recipient` when it is a string, `tags` when it is an array
 * (its strings), `metadata` when it is an object. The canonical email data always has these shapes;
 * the publisher's own data may have other keys of these names, which are then ignored rather than
 * refused: the data is theirs.
 */
export function routingFields(data: unknown): {
  recipient: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
} {
  const object = isPlainObject(data) ? data : {};
  return {
    recipient: typeof object.recipient === 'string' ? object.recipient : null,
    tags: Array.isArray(object.tags) ? object.tags.filter((t): t is string => typeof t === 'string') : [],
    metadata: isPlainObject(object.metadata) ? object.metadata : {},
  };
}

/**
 * What an adapter's `parse` returns: a canonical event before mailhook has given it an id and
 * attached the source. `dedupKey` never leaves mailhook.
 */
export interface ParsedEvent {
  type: string;
  timestamp: Date;
  dedupKey: string;
  data: Omit<EventData, 'provider' | 'source_id' | 'received_at'>;
}
