import { MalformedPayloadError } from '../errors.js';
import type { EmailEventType, ParsedEvent } from '../events.js';
import { credentialAuth, credentialSetup } from './credentials.js';
import { sha256Hex } from './crypto.js';
import { parseBodyJson } from './json.js';
import { type PostmarkOutcome, postmarkBounceOutcome } from './postmark-bounce-types.js';
import type { ParseResult, ProviderAdapter, RawRequest, SkippedItem, Source } from './types.js';

/**
 * Postmark outbound webhooks (https://postmarkapp.com/developer/webhooks/webhooks-overview).
 * Postmark signs nothing: a source is authenticated by HTTP basic auth (credentials in the webhook
 * URL or the webhook's HttpAuth) and/or a custom header (HttpHeaders). Each POST carries one JSON
 * object whose `RecordType` says what it is; only Bounce and SpamComplaint records carry an id.
 */

type PostmarkRecord = Record<string, unknown>;

/** The field holding when the event happened, per RecordType (the webhook reference pages). */
const TIME_FIELD: Readonly<Record<string, string>> = {
  Delivery: 'DeliveredAt',
  Bounce: 'BouncedAt',
  SpamComplaint: 'BouncedAt',
  Open: 'ReceivedAt',
  Click: 'ReceivedAt',
  SubscriptionChange: 'ChangedAt',
};

const auth = credentialAuth('postmark');

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * ISO 8601 to the millisecond, exactly: Postmark writes 7 fractional digits
 * (`2019-11-05T16:33:54.9070259Z`) and local offsets (`2014-08-01T13:28:10.2735393-04:00`). Digits
 * past the millisecond are truncated, never rounded into the next second. A time without an offset
 * is read as UTC rather than as the server's local time.
 */
export function parseIsoInstant(text: string): Date | null {
  const m = ISO_INSTANT.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const ms = Number(`${fraction}000`.slice(0, 3));
  const utc = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), ms);
  const check = new Date(utc);
  // Date.UTC rolls over out-of-range parts (Feb 30 → Mar 2); refuse them instead.
  if (
    month < 1 ||
    month > 12 ||
    check.getUTCDate() !== day ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    return null;
  }
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || '0'));
  }
  return new Date(utc - offsetMin * 60_000);
}

/** `5.1.1` from an SMTP response line (`smtp;550 5.1.1 …`), else its reply code (`550`). */
function statusCodeOf(details: string | null): string | null {
  if (!details) return null;
  const enhanced = /(?:^|[\s;(])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s;:,)])/.exec(details);
  if (enhanced?.[1]) return enhanced[1];
  const reply = /^(?:smtp;\s*)?([245]\d{2})(?=$|[\s-])/i.exec(details);
  return reply?.[1] ?? null;
}

/** What a record means: the canonical type (and bounce class), or why it is skipped. */
function outcomeOf(recordType: string, record: PostmarkRecord, index: number): PostmarkOutcome {
  switch (recordType) {
    case 'Delivery':
      return { type: 'email.delivered' };
    case 'Open':
      return { type: 'email.opened' };
    case 'Click':
      return { type: 'email.clicked' };
    case 'SpamComplaint':
      return { type: 'email.complained' };
    case 'SubscriptionChange':
      if (typeof record.SuppressSending !== 'boolean') {
        throw new MalformedPayloadError(
          `record ${index}: SubscriptionChange without a boolean SuppressSending`,
        );
      }
      // SuppressSending true: Postmark stops sending to the address on this stream (whatever the
      // SuppressionReason); false: the address was reactivated.
      return { type: record.SuppressSending ? 'email.unsubscribed' : 'email.resubscribed' };
    default: {
      const code = typeof record.TypeCode === 'number' ? record.TypeCode : null;
      return postmarkBounceOutcome(stringOrNull(record.Type), code).outcome;
    }
  }
}

function recipientOf(record: PostmarkRecord, recordType: string): string | null {
  // Bounce and SpamComplaint name the address `Email`; every other record names it `Recipient`.
  const bounceLike = recordType === 'Bounce' || recordType === 'SpamComplaint';
  const value = bounceLike ? (record.Email ?? record.Recipient) : (record.Recipient ?? record.Email);
  const text = stringOrNull(value);
  return text === null ? null : text.trim().toLowerCase();
}

function timestampOf(record: PostmarkRecord, recordType: string, index: number): { raw: string; at: Date } {
  const field = TIME_FIELD[recordType] ?? 'BouncedAt';
  const raw = stringOrNull(record[field]);
  const at = raw === null ? null : parseIsoInstant(raw);
  if (raw === null || at === null) {
    throw new MalformedPayloadError(`record ${index}: "${field}" is not an ISO 8601 date-time`);
  }
  return { raw, at };
}

/**
 * Bounce and SpamComplaint records carry Postmark's bounce `ID`. The others carry no id at all, so
 * their key is built from what identifies the event: record type, message, recipient and the
 * event's own timestamp as Postmark wrote it (100 ns precision, so two real opens never collide),
 * plus the link for clicks. A retry of the same post produces the same key. Hashed, because a
 * clicked URL can be kilobytes long and keys are indexed.
 */
function dedupKeyOf(
  recordType: string,
  record: PostmarkRecord,
  parts: { id: string | null; messageId: string | null; recipient: string; time: string },
): string {
  if (parts.id !== null) return `${recordType}:${parts.id}`;
  const extra =
    recordType === 'Click'
      ? stringOrNull(record.OriginalLink)
      : recordType === 'SubscriptionChange'
        ? String(record.SuppressSending)
        : stringOrNull(record.Type);
  const identity = JSON.stringify([parts.messageId, parts.recipient, parts.time, extra]);
  return `${recordType}:sha256:${sha256Hex(identity)}`;
}

function tagsOf(record: PostmarkRecord): string[] {
  const tag = stringOrNull(record.Tag);
  return tag === null ? [] : [tag];
}

/**
 * One outbound record, as its webhook carries it, to the canonical event (or why it is skipped).
 * Exported for the reconciliation reader, which rebuilds webhook-shaped records from API items so
 * both paths share this one mapping and its dedup key.
 */
export function parseRecord(
  record: PostmarkRecord,
  index: number,
  recordType: string,
): ParsedEvent | SkippedItem {
  const outcome = outcomeOf(recordType, record, index);
  if ('skip' in outcome) return { index, reason: outcome.skip };
  const recipient = recipientOf(record, recordType);
  if (recipient === null) throw new MalformedPayloadError(`record ${index}: no recipient address`);
  const time = timestampOf(record, recordType, index);
  const id = recordType === 'Bounce' || recordType === 'SpamComplaint' ? stringOrNull(record.ID) : null;
  // The webhook reference spells it MessageID; postmark.js's DeliveryWebhook type spells it MessageId.
  const messageId = stringOrNull(record.MessageID ?? record.MessageId);
  const geo = isObject(record.Geo) ? record.Geo : {};
  const type: EmailEventType = outcome.type;
  const data: ParsedEvent['data'] = {
    provider_event_id: id,
    message_id: messageId,
    recipient,
    user_agent: stringOrNull(record.UserAgent),
    ip: stringOrNull(geo.IP),
    tags: tagsOf(record),
    metadata: isObject(record.Metadata) ? record.Metadata : {},
    raw: record,
  };
  if ((type === 'email.bounced' || type === 'email.dropped') && outcome.bounce) {
    const details = stringOrNull(record.Details);
    data.bounce = {
      type: outcome.bounce,
      code: statusCodeOf(details),
      reason: details ?? stringOrNull(record.Description) ?? stringOrNull(record.Name),
    };
  }
  if (type === 'email.clicked') data.click = { url: stringOrNull(record.OriginalLink) };
  // Postmark flags no machine (Apple Mail Privacy Protection) opens in its payload.
  if (type === 'email.opened') data.open = { machine: false };
  if (type === 'email.unsubscribed' || type === 'email.resubscribed') {
    // Postmark suppressions are per message stream (outbound, broadcast, …), never account-wide.
    data.unsubscribe = { group: stringOrNull(record.MessageStream) };
  }
  return {
    type,
    timestamp: time.at,
    dedupKey: dedupKeyOf(recordType, record, { id, messageId, recipient, time: time.raw }),
    data,
  };
}

function parse(req: RawRequest): ParseResult {
  const body = parseBodyJson(req.body);
  // Postmark posts one object per request; an array is accepted all the same.
  const items: unknown[] = Array.isArray(body) ? body : [body];
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  items.forEach((item, index) => {
    if (!isObject(item)) throw new MalformedPayloadError(`record ${index}: not a JSON object`);
    const recordType = stringOrNull(item.RecordType);
    if (recordType === null || recordType === 'Inbound') {
      skipped.push({ index, reason: 'Postmark inbound message (no outbound RecordType)' });
      return;
    }
    if (!(recordType in TIME_FIELD)) {
      skipped.push({
        index,
        reason: `Postmark RecordType "${recordType}" is not an email event mailhook maps`,
      });
      return;
    }
    const result = parseRecord(item, index, recordType);
    if ('reason' in result) skipped.push(result);
    else events.push(result);
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In Postmark: Servers → your server → the message stream (Transactional "outbound" or Broadcasts)',
    '→ Webhooks → Add webhook. Webhooks are per stream: add one to every stream you send from.',
    ...credentialSetup(source.config, ingestUrl).map((line, i) => (i === 0 ? `1. ${line}` : `   ${line}`)),
    '2. If you configured a header on this source, add it under "Custom headers" with its value.',
    '3. Tick the events to send: Delivery, Bounce, Spam complaint, Open (untick "Post only first open"',
    '   to get every open), Link click, Subscription change. Bounce webhooks exist only on transactional',
    '   streams; on Broadcasts, bounces reach you as Subscription change (SuppressionReason HardBounce).',
    '4. Save. Postmark test-posts every ticked event type and mailhook must answer 200; those sample',
    '   events are stored like real ones.',
    'mailhook refuses (401) every post whose credentials do not match.',
  ].join('\n');
}

export const postmark = {
  id: 'postmark',
  displayName: 'Postmark',
  ...auth,
  parse,
  setup,
} satisfies ProviderAdapter;
