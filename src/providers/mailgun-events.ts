import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { sha256Hex } from './crypto.js';
import type { ParseResult } from './types.js';

/**
 * Mailgun's current webhooks: one JSON object per request,
 * `{"signature": {timestamp, token, signature}, "event-data": {…}}`, where `event-data` has the
 * shape of an Events API record (`event`, `id`, `timestamp` as fractional Unix seconds, `recipient`,
 * `message.headers.message-id`, `tags`, `user-variables`, `delivery-status`, …).
 */

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * Mailgun's send API answers `{"id": "<20111114174239.25659.5817@samples.mailgun.org>"}` while
 * events carry the same Message-ID without the angle brackets. mailhook keeps the bare form, as the
 * events and Mailgun's own Events API `message-id` filter use it: strip `<>` from the send API id
 * to match.
 */
export function bareMessageId(value: unknown): string | null {
  const text = stringOrNull(value)?.trim();
  if (!text) return null;
  return text.replace(/^<(.*)>$/s, '$1').trim() || null;
}

/** `user@example.com` from `Name <user@example.com>` or a bare address; null for several or none. */
export function singleAddress(header: unknown): string | null {
  const text = stringOrNull(header);
  if (!text) return null;
  const angled = [...text.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)];
  if (angled.length > 1) return null;
  const address = angled[0]?.[1] ?? text.trim();
  return /^[^\s@,<>]+@[^\s@,<>]+$/.test(address) ? address.toLowerCase() : null;
}

/** A hard/soft class from an enhanced status code (`5.1.1`) or an SMTP reply code (`550`). */
export function classFromCode(code: string | null): BounceType | null {
  if (!code) return null;
  if (/^5/.test(code)) return 'hard';
  if (/^4/.test(code)) return 'soft';
  return null;
}

/** `suppress-bounce` means the address bounced before; unsubscribes and complaints say nothing about it. */
export function suppressionClass(reason: string): BounceType {
  return reason === 'suppress-bounce' ? 'hard' : 'undetermined';
}

const SIMPLE_TYPES: Record<string, EmailEventType> = {
  accepted: 'email.sent',
  delivered: 'email.delivered',
  rejected: 'email.dropped',
  opened: 'email.opened',
  clicked: 'email.clicked',
  unsubscribed: 'email.unsubscribed',
  complained: 'email.complained',
};

function deliveryStatus(event: Json): Json {
  return isObject(event['delivery-status']) ? event['delivery-status'] : {};
}

/**
 * The most precise status code Mailgun gives: the enhanced code (`5.1.1`) when there is one, else
 * the SMTP reply code. Mailgun's own codes (605 previously bounced, 606 unsubscribed, 607
 * complained, 498/499 no MX or no connection) come through as they are; a 0 means none.
 */
function statusCodeOf(status: Json): string | null {
  const enhanced = stringOrNull(status['enhanced-code']) ?? stringOrNull(status['bounce-code']);
  if (enhanced) return enhanced;
  const code = stringOrNull(status.code);
  return code === '0' ? null : code;
}

function statusReasonOf(event: Json, status: Json): string | null {
  return stringOrNull(status.message) ?? stringOrNull(status.description) ?? stringOrNull(event.reason);
}

interface Classified {
  type: EmailEventType;
  bounce?: BounceInfo;
}

/**
 * `failed` covers four things Mailgun tells apart with `severity` and `reason`:
 * - `suppress-*` (with `severity: permanent`): never attempted, the address is on a suppression list;
 * - `old`: Mailgun retried for hours and gave up (a soft failure that became final);
 * - any other permanent failure: the receiving server refused the address (hard bounce);
 * - a temporary failure: Mailgun will retry (deferred).
 */
function classifyFailed(event: Json): Classified {
  const status = deliveryStatus(event);
  const code = statusCodeOf(status);
  const reason = stringOrNull(event.reason);
  const text = statusReasonOf(event, status);
  const severity = stringOrNull(event.severity);
  if (reason?.startsWith('suppress-')) {
    return { type: 'email.dropped', bounce: { type: suppressionClass(reason), code, reason: text } };
  }
  if (reason === 'old') return { type: 'email.bounced', bounce: { type: 'soft', code, reason: text } };
  if (severity === 'permanent') {
    return { type: 'email.bounced', bounce: { type: 'hard', code, reason: text } };
  }
  if (severity === 'temporary') return { type: 'email.deferred' };
  // No severity (not seen in documented payloads): let the status code decide.
  const byCode = classFromCode(code);
  if (byCode === 'soft') return { type: 'email.deferred' };
  return { type: 'email.bounced', bounce: { type: byCode ?? 'undetermined', code, reason: text } };
}

function classify(name: string, event: Json): Classified | null {
  if (name === 'failed') return classifyFailed(event);
  const type = SIMPLE_TYPES[name];
  if (!type) return null;
  if (name === 'rejected') {
    // Refused at the API (sandbox limits, policy): nothing says the address is bad.
    const reject = isObject(event.reject) ? event.reject : {};
    const reason = stringOrNull(reject.reason) ?? stringOrNull(reject.description);
    return { type, bounce: { type: 'undetermined', code: null, reason } };
  }
  return { type };
}

/** Fractional Unix seconds (number or numeric string) → Date, to the millisecond. */
function timestampOf(value: unknown, fallback: unknown): { date: Date; text: string } {
  for (const candidate of [value, fallback]) {
    const text = typeof candidate === 'number' ? String(candidate) : stringOrNull(candidate);
    if (text === null || !/^\d+(\.\d+)?$/.test(text)) continue;
    const seconds = Number(text);
    if (seconds > 0) return { date: new Date(Math.round(seconds * 1000)), text };
  }
  throw new MalformedPayloadError('event-data.timestamp is not a Unix time in seconds');
}

function tagsOf(event: Json): string[] {
  const tags = event.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** `user-variables` is an object; documented examples without variables show an empty array. */
function metadataOf(event: Json): Record<string, unknown> {
  const variables = event['user-variables'];
  return isObject(variables) ? variables : {};
}

function recipientOf(event: Json, headers: Json): string | null {
  const recipient = stringOrNull(event.recipient);
  // `rejected` events may come without `recipient`; the To header then names the one recipient.
  return recipient ? recipient.trim().toLowerCase() : singleAddress(headers.to);
}

export function parseCurrent(body: unknown): ParseResult {
  if (!isObject(body)) throw new MalformedPayloadError('body must be a JSON object');
  const event = body['event-data'];
  if (!isObject(event)) throw new MalformedPayloadError('"event-data" is missing or not an object');
  const name = stringOrNull(event.event);
  if (name === null) throw new MalformedPayloadError('event-data.event is missing');
  const classified = classify(name, event);
  if (!classified) {
    return { events: [], skipped: [{ index: 0, reason: `Mailgun event "${name}" is not an email event` }] };
  }
  const signature = isObject(body.signature) ? body.signature : {};
  const time = timestampOf(event.timestamp, signature.timestamp);
  const message = isObject(event.message) ? event.message : {};
  const headers = isObject(message.headers) ? message.headers : {};
  const clientInfo = isObject(event['client-info']) ? event['client-info'] : {};
  const id = stringOrNull(event.id);
  const data: ParsedEvent['data'] = {
    provider_event_id: id,
    message_id: bareMessageId(headers['message-id']),
    recipient: recipientOf(event, headers),
    user_agent: stringOrNull(clientInfo['user-agent']),
    ip: stringOrNull(event.ip),
    tags: tagsOf(event),
    metadata: metadataOf(event),
    raw: event,
  };
  if (classified.bounce) data.bounce = classified.bounce;
  if (classified.type === 'email.clicked') data.click = { url: stringOrNull(event.url) };
  // client-info.bot is "apple", "gmail" or "generic" when Mailgun saw a machine open; empty otherwise.
  if (classified.type === 'email.opened') data.open = { machine: stringOrNull(clientInfo.bot) !== null };
  if (classified.type === 'email.unsubscribed') {
    const list = isObject(event['mailing-list']) ? event['mailing-list'] : {};
    data.unsubscribe = { group: stringOrNull(list.address) };
  }
  return {
    events: [
      {
        type: classified.type,
        timestamp: time.date,
        // Mailgun documents `id` as unique only within a day, so the event's own timestamp joins it.
        dedupKey: id ? `${id}:${time.text}` : `sha256:${sha256Hex(JSON.stringify(event))}`,
        data,
      },
    ],
    skipped: [],
  };
}
