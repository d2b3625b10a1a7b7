import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, EmailEventType, ParsedEvent } from '../events.js';
import { sha256Hex } from './crypto.js';

/**
 * MailerSend activity payloads come in two shapes, chosen per webhook in the dashboard:
 * - 1.0 (legacy, "fat"): `data` is the activity `{object, id, type, created_at, email{…, tags,
 *   message{id}, recipient{email}}, morph, template_id}`; `morph` holds the event details
 *   (`recipient_bounce{reason}`, `recipient_unsubscribe{reason, readable_reason}`, `open{ip}`,
 *   `click{ip, url}`, `spam_complaint`).
 * - 2.0 (the default since 2025): `data` is flat `{id, domain_id, message_id, email_id, type,
 *   subject, recipient, tags, meta}` with details in `meta` (`bounce_reason`, `bounce_code`,
 *   `bounce_type`, `ip`, `user_agent`, `url`, `suppression_reason`, `unsubscribe_reason`…), `[]`
 *   when empty, and the time only in the top-level `created_at`.
 */

export const EVENT_TYPES: Record<string, EmailEventType> = {
  'activity.sent': 'email.sent',
  'activity.delivered': 'email.delivered',
  'activity.deferred': 'email.deferred',
  'activity.soft_bounced': 'email.bounced',
  'activity.hard_bounced': 'email.bounced',
  'activity.suppressed': 'email.dropped',
  'activity.opened': 'email.opened',
  'activity.opened_unique': 'email.opened',
  'activity.clicked': 'email.clicked',
  'activity.clicked_unique': 'email.clicked',
  'activity.unsubscribed': 'email.unsubscribed',
  'activity.spam_complaint': 'email.complained',
};

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * `created_at` is ISO 8601 with microseconds (`2020-11-27T10:08:06.258000Z`); system events use
 * `2025-08-05 22:27:14` without a zone, which is UTC. Fractions beyond milliseconds are truncated.
 */
export function parseTimestamp(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const match = ISO.exec(value.trim());
  if (!match) return null;
  const [, day, time, fraction, zone] = match;
  const millis = (fraction ?? '').padEnd(3, '0').slice(0, 3);
  const offset =
    !zone || zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${day}T${time}.${millis}${offset}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function tagsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
}

/** The fields mailhook reads, whichever payload version carried them. */
interface Activity {
  id: string | null;
  createdAt: unknown;
  messageId: string | null;
  recipient: string | null;
  tags: string[];
  reason: string | null;
  code: string | null;
  url: string | null;
  ip: string | null;
  userAgent: string | null;
}

function fromV1(data: Json, email: Json): Activity {
  const message = isObject(email.message) ? email.message : {};
  const recipient = isObject(email.recipient) ? email.recipient : {};
  const morph = isObject(data.morph) ? data.morph : {};
  return {
    id: stringOrNull(data.id),
    createdAt: data.created_at,
    messageId: stringOrNull(message.id),
    recipient: stringOrNull(recipient.email),
    tags: tagsOf(email.tags),
    reason: stringOrNull(morph.readable_reason) ?? stringOrNull(morph.reason),
    code: null,
    url: stringOrNull(morph.url),
    ip: stringOrNull(morph.ip),
    userAgent: null,
  };
}

function fromV2(data: Json): Activity {
  const meta = isObject(data.meta) ? data.meta : {};
  // Real 2.0 payloads name the recipient `recipient`; the documentation's example calls it `email`.
  const recipient = isObject(data.recipient) ? data.recipient.email : (data.recipient ?? data.email);
  return {
    id: stringOrNull(data.id),
    createdAt: data.created_at,
    messageId: stringOrNull(data.message_id),
    recipient: stringOrNull(recipient),
    tags: tagsOf(data.tags),
    reason:
      stringOrNull(meta.bounce_reason) ??
      stringOrNull(meta.suppression_reason) ??
      stringOrNull(meta.reject_reason) ??
      stringOrNull(meta.unsubscribe_reason),
    code: stringOrNull(meta.bounce_code),
    url: stringOrNull(meta.url),
    ip: stringOrNull(meta.ip),
    userAgent: stringOrNull(meta.user_agent),
  };
}

/** A suppression only says something about the mailbox when an earlier hard bounce caused it. */
function droppedOf(activity: Activity): BounceInfo {
  const hard = activity.reason !== null && /hard[_ -]?bounce/i.test(activity.reason);
  return { type: hard ? 'hard' : 'undetermined', code: activity.code, reason: activity.reason };
}

export function parseActivity(body: Json, name: string, type: EmailEventType): ParsedEvent {
  const data = body.data;
  if (!isObject(data)) throw new MalformedPayloadError('"data" is missing');
  const activity = isObject(data.email) ? fromV1(data, data.email) : fromV2(data);
  if (activity.recipient === null) throw new MalformedPayloadError('the recipient is missing');
  // 1.0 carries the activity's own time in data.created_at (the top level is when the webhook was
  // built); 2.0 has only the top-level one.
  const timestamp = parseTimestamp(activity.createdAt ?? body.created_at);
  if (!timestamp) throw new MalformedPayloadError('"created_at" is not an ISO 8601 date-time');
  const result: ParsedEvent['data'] = {
    provider_event_id: activity.id,
    // The id the email API returned in X-Message-Id; one message may go to several recipients.
    message_id: activity.messageId,
    recipient: activity.recipient.trim().toLowerCase(),
    user_agent: activity.userAgent,
    ip: activity.ip,
    tags: activity.tags,
    // MailerSend echoes no custom variables or headers in its webhooks.
    metadata: {},
    raw: body,
  };
  if (name === 'activity.hard_bounced' || name === 'activity.soft_bounced') {
    const kind = name === 'activity.hard_bounced' ? 'hard' : 'soft';
    result.bounce = { type: kind, code: activity.code, reason: activity.reason };
  }
  if (type === 'email.dropped') result.bounce = droppedOf(activity);
  if (type === 'email.clicked') result.click = { url: activity.url };
  if (type === 'email.opened') result.open = { machine: false };
  if (type === 'email.unsubscribed') result.unsubscribe = { group: null };
  return {
    type,
    timestamp,
    // data.id is the activity's id, the same on every retry; a hash stands in if it is ever missing.
    dedupKey: activity.id ?? `sha256:${sha256Hex(JSON.stringify(body))}`,
    data: result,
  };
}
