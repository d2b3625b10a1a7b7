import { calendarDateExists } from './dates.js';
import { MalformedPayloadError } from './errors.js';
import {
  type BounceInfo,
  isEmailEventType,
  isReservedEventType,
  type ParsedEvent,
  routingFields,
} from './events.js';
import { FIELD_LIMITS, longerThan } from './field-limits.js';
import { withoutNul } from './nul.js';

/**
 * Reads an event given in the canonical shape — `{"type", "timestamp"?, "data"?}` — as posted by a
 * Standard Webhooks sender or published through `POST /v1/events`. Throws MalformedPayloadError with
 * a message that names the field. `email.*` data is read into the canonical email data; the data of
 * any other type is kept as it is (ownTypeData).
 */
export interface CanonicalInput {
  type: string;
  timestamp: Date;
  data: ParsedEvent['data'];
}

export interface ReadOptions {
  /** Used when the event has no `timestamp`. */
  fallbackTimestamp?: Date;
  /** Stands in for `data.provider_event_id` when the event has none. */
  providerEventId?: string | null;
  /** Publishing: `email.*` events must name their recipient. */
  requireRecipient?: boolean;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(data: Record<string, unknown>, key: string, path = 'data'): string | null {
  const value = data[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new MalformedPayloadError(`${path}.${key} must be a string or null`);
  return value;
}

const BOUNCE_TYPES = new Set(['hard', 'soft', 'undetermined']);

function bounceOf(data: Record<string, unknown>): BounceInfo {
  const bounce = isObject(data.bounce) ? data.bounce : {};
  const type = bounce.type ?? 'undetermined';
  if (typeof type !== 'string' || !BOUNCE_TYPES.has(type)) {
    throw new MalformedPayloadError('data.bounce.type must be hard, soft or undetermined');
  }
  return {
    type: type as BounceInfo['type'],
    code: optionalString(bounce, 'code', 'data.bounce'),
    reason: optionalString(bounce, 'reason', 'data.bounce'),
  };
}

/** ISO 8601 with a zone (`Z` or an offset): a zone-less time would be read in the server's zone. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function timestampOf(body: Record<string, unknown>, fallback: Date | undefined): Date {
  if (body.timestamp === undefined || body.timestamp === null) {
    if (fallback) return fallback;
    throw new MalformedPayloadError('timestamp is missing');
  }
  const text = body.timestamp;
  const date = typeof text === 'string' && ISO_WITH_ZONE.test(text) ? new Date(text) : null;
  if (!date || Number.isNaN(date.getTime()) || !calendarDateExists(text as string)) {
    throw new MalformedPayloadError(
      'timestamp must be an ISO 8601 date-time with a zone, e.g. 2026-11-26T12:00:00Z',
    );
  }
  return date;
}

/** A string short enough to index (field-limits.ts), or null: the data itself keeps the original. */
function indexable(value: string | null, limit: number): string | null {
  return value === null || longerThan(value, limit) ? null : value;
}

/**
 * The data of an event of the publisher's own type: `published` is what is stored, served and
 * delivered, untouched (EventData.toJSON); the canonical fields are read from its top level for the
 * store's indexes and the endpoint filters — `recipient` (a string, compared lower-cased like an
 * email recipient) and `message_id` (a string) become searchable and join message timelines,
 * `tags` and `metadata` feed the filters. Nothing else is read, and nothing in `published` is
 * refused: an email event's fields mean something to mailhook, an own event's fields do not.
 */
export function ownTypeData(
  published: Record<string, unknown>,
  providerEventId: string | null = null,
): ParsedEvent['data'] {
  // NUL cannot be stored by PostgreSQL (nul.ts); the API refuses it, a Standard Webhooks sender may not.
  const stored = withoutNul(published);
  const fields = routingFields(stored);
  const recipient = indexable(fields.recipient?.trim().toLowerCase() ?? null, FIELD_LIMITS.recipient);
  const messageId = typeof stored.message_id === 'string' ? stored.message_id : null;
  return {
    provider_event_id: providerEventId,
    message_id: indexable(messageId, FIELD_LIMITS.messageId),
    recipient: recipient === '' ? null : recipient,
    user_agent: null,
    ip: null,
    tags: fields.tags,
    metadata: fields.metadata,
    raw: null,
    toJSON: () => stored,
  };
}

export function readCanonicalEvent(body: unknown, options: ReadOptions = {}): CanonicalInput {
  if (!isObject(body)) throw new MalformedPayloadError('the event must be a JSON object');
  const type = body.type;
  if (typeof type !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(type)) {
    throw new MalformedPayloadError('type must be 1–100 characters of letters, digits, ".", "_" or "-"');
  }
  if (isReservedEventType(type)) {
    throw new MalformedPayloadError(`"${type}": system.* types are reserved for mailhook's own events`);
  }
  const isEmail = type.startsWith('email.');
  if (isEmail && !isEmailEventType(type)) {
    throw new MalformedPayloadError(`"${type}" is not a canonical email event type`);
  }
  const data = body.data === undefined ? {} : body.data;
  if (!isObject(data)) throw new MalformedPayloadError('data must be an object');
  const timestamp = timestampOf(body, options.fallbackTimestamp);
  if (!isEmail) return { type, timestamp, data: ownTypeData(data, options.providerEventId ?? null) };
  const tags = data.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
    throw new MalformedPayloadError('data.tags must be an array of strings');
  }
  const metadata = data.metadata ?? {};
  if (!isObject(metadata)) throw new MalformedPayloadError('data.metadata must be an object');
  const recipient = optionalString(data, 'recipient');
  if (options.requireRecipient && !recipient) {
    throw new MalformedPayloadError(`data.recipient is required for ${type}`);
  }

  const result: CanonicalInput = {
    type,
    timestamp,
    data: {
      provider_event_id: optionalString(data, 'provider_event_id') ?? options.providerEventId ?? null,
      message_id: optionalString(data, 'message_id'),
      recipient: recipient === null ? null : recipient.trim().toLowerCase(),
      user_agent: optionalString(data, 'user_agent'),
      ip: optionalString(data, 'ip'),
      tags: tags as string[],
      metadata,
      raw: body,
    },
  };
  if (type === 'email.bounced' || type === 'email.dropped') result.data.bounce = bounceOf(data);
  if (type === 'email.clicked') {
    result.data.click = {
      url: isObject(data.click) ? optionalString(data.click, 'url', 'data.click') : null,
    };
  }
  if (type === 'email.opened')
    result.data.open = { machine: isObject(data.open) && data.open.machine === true };
  if (type === 'email.unsubscribed' || type === 'email.resubscribed') {
    result.data.unsubscribe = {
      group: isObject(data.unsubscribe)
        ? optionalString(data.unsubscribe, 'group', 'data.unsubscribe')
        : null,
    };
  }
  return result;
}
