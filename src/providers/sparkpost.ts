import { MalformedPayloadError } from '../errors.js';
import type { EmailEventType, ParsedEvent } from '../events.js';
import { credentialAuth } from './credentials.js';
import { sha256Hex } from './crypto.js';
import { parseBodyJson } from './json.js';
import { ADMIN_FAILURE_CLASS, bounceTypeOfClass, sparkPostBounceClass } from './sparkpost-bounce-classes.js';
import type { ParseResult, ProviderAdapter, RawRequest, SkippedItem, Source } from './types.js';

/**
 * SparkPost (Bird) event webhooks (https://developers.sparkpost.com/api/webhooks/). SparkPost signs
 * nothing: a webhook authenticates with basic auth (`auth_type: basic`), custom headers
 * (`custom_headers`, or the deprecated `auth_token` sent as X-MessageSystems-Webhook-Token). A POST
 * is a JSON array of `{"msys": {"<class>": {event}}}` elements; the test/validation ping is
 * `[{"msys": {}}]` and must be answered 200 or SparkPost refuses to create the webhook.
 */

type SparkPostEvent = Record<string, unknown>;

/** Event `type` → canonical type. Types are unique across classes, so the class is not needed. */
const EVENT_TYPES: Readonly<Record<string, EmailEventType>> = {
  injection: 'email.sent',
  delivery: 'email.delivered',
  bounce: 'email.bounced',
  // An asynchronous bounce (a DSN after the receiver accepted the message), same bounce_class codes.
  out_of_band: 'email.bounced',
  delay: 'email.deferred',
  policy_rejection: 'email.dropped',
  generation_rejection: 'email.dropped',
  generation_failure: 'email.failed',
  spam_complaint: 'email.complained',
  // `initial_open` is the pixel at the top of the message, `open` the one at the bottom: one
  // reading of a full message yields both (https://support.sparkpost.com/docs/tech-resources/open-pixel-location).
  open: 'email.opened',
  initial_open: 'email.opened',
  amp_open: 'email.opened',
  amp_initial_open: 'email.opened',
  click: 'email.clicked',
  amp_click: 'email.clicked',
  list_unsubscribe: 'email.unsubscribed',
  link_unsubscribe: 'email.unsubscribed',
};

/** Event classes that never carry outbound email events. */
const SKIPPED_CLASSES: Readonly<Record<string, string>> = {
  relay_message: 'SparkPost inbound relay message',
  relay_event: 'SparkPost inbound relay event',
  ab_test_event: 'SparkPost A/B test event',
  ingest_event: 'SparkPost events-ingest event',
};

const auth = credentialAuth('sparkpost');

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/** Milliseconds from a decimal seconds string without floating-point error ("1460989507.5" → …500). */
function secondsToMs(text: string): number {
  const [whole = '0', fraction = ''] = text.split('.');
  const ms = Number(whole) * 1000 + Number(`${fraction}000`.slice(0, 3));
  // A value past year 33658 in seconds can only be milliseconds.
  return Number(whole) > 1e12 ? Number(whole) : ms;
}

/**
 * Webhook events carry Unix seconds as a string (`"1464824548"`); the documented samples of the
 * same events show ISO 8601 with an offset (`"2016-04-18T14:25:07.000+00:00"`). Both are accepted,
 * exactly to the millisecond.
 */
export function sparkPostTimestamp(value: unknown): Date | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) return null;
    return new Date(Math.round(value > 1e12 ? value : value * 1000));
  }
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (/^\d{1,16}(\.\d+)?$/.test(text)) return new Date(secondsToMs(text));
  const m = ISO_INSTANT.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = m;
  const utc = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s),
    Number(`${fraction}000`.slice(0, 3)),
  );
  if (new Date(utc).getUTCDate() !== Number(d) || Number(mo) > 12 || Number(h) > 23 || Number(mi) > 59) {
    return null;
  }
  if (zone === 'Z' || zone === 'z') return new Date(utc);
  const digits = zone.replace(':', '');
  const sign = digits.startsWith('-') ? -1 : 1;
  const offsetMin = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || '0'));
  return new Date(utc - offsetMin * 60_000);
}

/** The enhanced status code (`5.1.1`) in an SMTP response, else SparkPost's `error_code` (`550`). */
function statusCodeOf(event: SparkPostEvent): string | null {
  for (const text of [stringOrNull(event.raw_reason), stringOrNull(event.reason)]) {
    const enhanced = text && /(?:^|[\s;(])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s;:,)])/.exec(text);
    if (enhanced?.[1]) return enhanced[1];
  }
  return stringOrNull(event.error_code);
}

function tagsOf(event: SparkPostEvent): string[] {
  const tags = event.rcpt_tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string' && t !== '') : [];
}

/**
 * The id the Transmissions API returned (`results.id`) is the event's `transmission_id`; SparkPost's
 * `message_id` is an internal per-message id that no send call ever returns. One transmission covers
 * all its recipients, so (message_id, recipient) names one email. `message_id` stands in only for
 * events without a transmission (none are documented).
 */
function messageIdOf(event: SparkPostEvent): string | null {
  return stringOrNull(event.transmission_id) ?? stringOrNull(event.message_id);
}

function canonicalType(name: string, event: SparkPostEvent): EmailEventType | undefined {
  const type = EVENT_TYPES[name];
  // An Admin Failure never reached the receiver: SparkPost's own policy refused the message.
  if (type === 'email.bounced' && sparkPostBounceClass(event.bounce_class)?.code === ADMIN_FAILURE_CLASS) {
    return 'email.dropped';
  }
  return type;
}

function parseEvent(
  event: SparkPostEvent,
  element: unknown,
  index: number,
  type: EmailEventType,
): ParsedEvent {
  const address = stringOrNull(event.rcpt_to) ?? stringOrNull(event.raw_rcpt_to);
  if (address === null) throw new MalformedPayloadError(`element ${index}: "rcpt_to" is missing`);
  const timestamp = sparkPostTimestamp(event.timestamp);
  if (timestamp === null) {
    throw new MalformedPayloadError(`element ${index}: "timestamp" is neither Unix seconds nor ISO 8601`);
  }
  const eventId = stringOrNull(event.event_id);
  const data: ParsedEvent['data'] = {
    provider_event_id: eventId,
    message_id: messageIdOf(event),
    recipient: address.trim().toLowerCase(),
    user_agent: stringOrNull(event.user_agent),
    // Engagement events: the reader's IP; message events: the receiving MTA's IP.
    ip: stringOrNull(event.ip_address),
    tags: tagsOf(event),
    metadata: isObject(event.rcpt_meta) ? event.rcpt_meta : {},
    raw: element,
  };
  if (type === 'email.bounced' || type === 'email.dropped') {
    data.bounce = {
      type: bounceTypeOfClass(event.bounce_class),
      code: statusCodeOf(event),
      reason: stringOrNull(event.raw_reason) ?? stringOrNull(event.reason),
    };
  }
  if (type === 'email.clicked') data.click = { url: stringOrNull(event.target_link_url) };
  // SparkPost's payload flags no machine (Apple Mail Privacy Protection) opens.
  if (type === 'email.opened') data.open = { machine: false };
  // SparkPost unsubscribes land on the account's (non-transactional) suppression list, not a group.
  if (type === 'email.unsubscribed') data.unsubscribe = { group: null };
  return {
    type,
    timestamp,
    // event_id is documented as the unique event identifier; a content hash stands in if it is absent.
    dedupKey: eventId ?? `sha256:${sha256Hex(JSON.stringify(event))}`,
    data,
  };
}

/**
 * One `{"msys": {"<class>": {event}}}` element: its events in order, or why it holds none. Exported
 * for the Events API reader (src/reconcile/sparkpost.ts), which wraps each API item back into its
 * webhook element so both paths map through this one function.
 */
export function parseElement(element: unknown, index: number): ParseResult {
  if (!isObject(element) || !isObject(element.msys)) {
    throw new MalformedPayloadError(`element ${index}: not a {"msys": {…}} object`);
  }
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  const classes = Object.entries(element.msys);
  if (classes.length === 0) {
    skipped.push({ index, reason: 'empty SparkPost element (webhook test/validation ping)' });
    return { events, skipped };
  }
  for (const [eventClass, event] of classes) {
    const skippedClass = SKIPPED_CLASSES[eventClass];
    if (skippedClass) {
      skipped.push({ index, reason: `${skippedClass} (${eventClass})` });
      continue;
    }
    if (!isObject(event))
      throw new MalformedPayloadError(`element ${index}: msys.${eventClass} is not an object`);
    const name = stringOrNull(event.type);
    if (name === null)
      throw new MalformedPayloadError(`element ${index}: msys.${eventClass}.type is missing`);
    const type = canonicalType(name, event);
    if (!type) {
      skipped.push({ index, reason: `SparkPost event "${name}" is not an email event mailhook maps` });
      continue;
    }
    events.push(parseEvent(event, element, index, type));
  }
  return { events, skipped };
}

function parse(req: RawRequest): ParseResult {
  const body = parseBodyJson(req.body);
  if (!Array.isArray(body))
    throw new MalformedPayloadError('body is not a JSON array of {"msys": …} elements');
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  body.forEach((element: unknown, index) => {
    const result = parseElement(element, index);
    events.push(...result.events);
    skipped.push(...result.skipped);
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  const basic = isObject(source.config.basic_auth) ? source.config.basic_auth : null;
  const header = isObject(source.config.header) ? source.config.header : null;
  return [
    'In SparkPost: Configuration → Webhooks → Add Webhook (EU accounts: app.eu.sparkpost.com).',
    `1. Target URL: ${ingestUrl}`,
    basic
      ? `2. Authentication: Basic Auth, username "${String(basic.username)}" and the password configured on this source.`
      : '2. Authentication: none (this source checks the custom header below).',
    header
      ? `3. Custom header (API: custom_headers): ${String(header.name)}: <the value configured on this source>.` +
        ' A webhook still using the deprecated auth_token sends it as X-MessageSystems-Webhook-Token.'
      : '3. No custom header is needed.',
    '4. Events: select what you need. Open and Initial Open both fire for one full reading of a',
    '   message (bottom and top pixel); select only one of them if you count opens.',
    '5. Save. SparkPost first posts a test batch [{"msys":{}}]; mailhook answers 200 and stores no event.',
    'mailhook refuses (401) every post whose credentials do not match.',
  ].join('\n');
}

export const sparkpost = {
  id: 'sparkpost',
  displayName: 'SparkPost',
  ...auth,
  parse,
  setup,
} satisfies ProviderAdapter;
