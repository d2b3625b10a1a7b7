import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { credentialAuth, credentialSetup } from './credentials.js';
import { parseBodyJson, parseJsonLossless } from './json.js';
import type { ParseResult, ProviderAdapter, RawRequest, SkippedItem, Source } from './types.js';

/**
 * Mailjet Event API ("event notifications", webhooks).
 * Mailjet signs nothing: sources are authenticated by HTTP basic auth in the callback URL
 * (`https://user:pass@host/...`, Mailjet's own recommendation) or a secret header. Version 1 posts one
 * bare JSON object per event; version 2 ("grouped") posts a JSON array of the last second's events,
 * of mixed types. There is no event id, so the dedup key is a composite (see `dedupKeyOf`).
 * `MessageID` is a 64-bit integer beyond 2^53: the body is parsed losslessly and ids stay strings.
 */

const auth = credentialAuth('mailjet');

const EVENT_TYPES: Record<string, EmailEventType> = {
  // "Dispatched when the destination SMTP server has accepted the message": that is a delivery.
  sent: 'email.delivered',
  open: 'email.opened',
  click: 'email.clicked',
  bounce: 'email.bounced',
  blocked: 'email.dropped',
  spam: 'email.complained',
  unsub: 'email.unsubscribed',
};

type MailjetEvent = Record<string, unknown>;

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  // Safe integers arrive as numbers; larger ones were kept as strings by parseJsonLossless.
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * The id Mailjet's Send API returned for this recipient (`MessageID` in v3.1 `Messages[].To[]`, and in
 * v3 `Sent[]`). Grouped samples carry only the deprecated string `mj_message_id`; `Message_GUID` (the
 * v3.1 `MessageUUID`) is the last resort.
 */
function messageIdOf(event: MailjetEvent): string | null {
  const id = stringOrNull(event.MessageID) ?? stringOrNull(event.mj_message_id);
  if (id !== null && id !== '0') return id;
  return stringOrNull(event.Message_GUID);
}

function timeOf(event: MailjetEvent, index: number): Date {
  const value = event.time;
  const seconds = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new MalformedPayloadError(`event ${index}: "time" is not a Unix time in seconds`);
  }
  return new Date(Math.round(seconds * 1000));
}

/** An enhanced status code (`5.1.1`) or a reply code (`550`) quoted in Mailjet's free-text `comment`. */
function smtpCodeIn(text: string | null): string | null {
  if (!text) return null;
  const enhanced = /(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])/.exec(text);
  if (enhanced?.[1]) return enhanced[1];
  const reply = /(?<![\d.])([245]\d\d)(?![\d.])/.exec(text);
  return reply?.[1] ?? null;
}

/**
 * Mailjet's documented `error` values (error table of the Event API guide) that say something about
 * the address itself; the others (spam filters, policy, duplicates, system issues) do not.
 */
const HARD_ERRORS = new Set([
  'user unknown',
  'mailbox inactive',
  'invalid domain',
  'no mail host',
  'typofix',
  'preblocked',
]);
const SOFT_ERRORS = new Set(['quota exceeded', 'greylisted']);

function classOfError(error: string | null): BounceType {
  const key = error?.toLowerCase() ?? '';
  if (HARD_ERRORS.has(key)) return 'hard';
  if (SOFT_ERRORS.has(key)) return 'soft';
  return 'undetermined';
}

function reasonOf(event: MailjetEvent): string | null {
  const related = stringOrNull(event.error_related_to);
  const error = stringOrNull(event.error);
  const comment = stringOrNull(event.comment);
  const head = related && error ? `${related}: ${error}` : (error ?? related);
  if (head && comment) return `${head} (${comment})`;
  return head ?? comment;
}

/** `hard_bounce` is Mailjet's own verdict ("true if error was permanent"); the error table decides only without it. */
function bounceOf(event: MailjetEvent): BounceInfo {
  const hard = event.hard_bounce;
  const type: BounceType =
    hard === true ? 'hard' : hard === false ? 'soft' : classOfError(stringOrNull(event.error));
  return { type, code: smtpCodeIn(stringOrNull(event.comment)), reason: reasonOf(event) };
}

/** `blocked`: Mailjet refused to send (preblocked address, duplicate, sender or content blocked). */
function dropOf(event: MailjetEvent): BounceInfo {
  return {
    type: classOfError(stringOrNull(event.error)),
    code: smtpCodeIn(stringOrNull(event.comment)),
    reason: reasonOf(event),
  };
}

/**
 * A greylisting bounce that is not permanent is "a temporary error ... Delivery will be re-attempted"
 * (error table): the message is deferred, not bounced.
 */
function isDeferral(event: MailjetEvent): boolean {
  return event.event === 'bounce' && event.hard_bounce !== true && event.error === 'greylisted';
}

/**
 * `Payload` is the string the sender attached (`EventPayload` in Send API v3.1, `Mj-EventPayLoad` in
 * v3): its keys become metadata when it is a JSON object, otherwise it is kept as `Payload`. `CustomID`
 * (`CustomID` / `Mj-CustomID`) is kept under its own name and wins over a payload key of that name.
 */
function metadataOf(event: MailjetEvent): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  const payload = stringOrNull(event.Payload);
  if (payload !== null) {
    let parsed: unknown = null;
    try {
      parsed = parseJsonLossless(payload);
    } catch {
      parsed = null;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      Object.assign(metadata, parsed);
    } else {
      metadata.Payload = payload;
    }
  }
  const customId = stringOrNull(event.CustomID);
  if (customId !== null) metadata.CustomID = customId;
  return metadata;
}

/**
 * No event id exists, so the identity of an event is what Mailjet posts for it: the event name, the
 * per-recipient message id, the recipient, the second it happened and, for clicks, the URL. A retry
 * repeats all of them; two clicks on different links in the same second stay distinct. JSON keeps the
 * parts unambiguous (a URL may contain any separator).
 */
function dedupKeyOf(event: MailjetEvent, name: string, messageId: string | null, recipient: string | null) {
  const parts: unknown[] = [name, messageId, recipient, stringOrNull(event.time)];
  if (name === 'click') parts.push(stringOrNull(event.url));
  return JSON.stringify(parts);
}

function parseEvent(event: MailjetEvent, index: number, name: string, mapped: EmailEventType): ParsedEvent {
  const type: EmailEventType = isDeferral(event) ? 'email.deferred' : mapped;
  const email = stringOrNull(event.email);
  const recipient = email === null ? null : email.trim().toLowerCase();
  const messageId = messageIdOf(event);
  const campaign = stringOrNull(event.customcampaign);
  const data: ParsedEvent['data'] = {
    provider_event_id: null,
    message_id: messageId,
    recipient,
    user_agent: stringOrNull(event.agent),
    ip: stringOrNull(event.ip),
    tags: campaign === null ? [] : [campaign],
    metadata: metadataOf(event),
    raw: event,
  };
  if (type === 'email.bounced') data.bounce = bounceOf(event);
  if (type === 'email.dropped') data.bounce = dropOf(event);
  if (type === 'email.clicked') data.click = { url: stringOrNull(event.url) };
  // Mailjet does not flag privacy-proxy (Apple MPP) opens.
  if (type === 'email.opened') data.open = { machine: false };
  if (type === 'email.unsubscribed') {
    // mj_list_id 0 (or absent) is an unsubscribe from no particular list (e.g. List-Unsubscribe).
    const list = stringOrNull(event.mj_list_id);
    data.unsubscribe = { group: list === null || list === '0' ? null : list };
  }
  return {
    type,
    timestamp: timeOf(event, index),
    dedupKey: dedupKeyOf(event, name, messageId, recipient),
    data,
  };
}

function parse(req: RawRequest): ParseResult {
  const body = parseBodyJson(req.body);
  const items = Array.isArray(body) ? body : [body];
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  items.forEach((item: unknown, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new MalformedPayloadError(`event ${index}: not a JSON object`);
    }
    const event = item as MailjetEvent;
    const name = stringOrNull(event.event);
    if (name === null) throw new MalformedPayloadError(`event ${index}: "event" is missing`);
    const type = EVENT_TYPES[name];
    if (!type) {
      skipped.push({ index, reason: `Mailjet event "${name}" is not an email event mailhook maps` });
      return;
    }
    events.push(parseEvent(event, index, name, type));
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In Mailjet: Account settings → Event notifications (webhooks), https://app.mailjet.com/account/triggers',
    ...credentialSetup(source.config, ingestUrl),
    '1. Paste the URL (with the basic-auth credentials in it) for every event type you want:',
    '   sent, open, click, bounce, blocked, spam, unsub. Mailjet has one URL per event type.',
    '2. Optional, for volume: group events (Event API version 2) with',
    '   POST https://api.mailjet.com/v3/REST/eventcallbackurl {"EventType": "<type>", "Url": "<url>", "Version": 2}.',
    'Mailjet cannot send custom headers: use config.basic_auth for Mailjet sources.',
    'Any answer other than 200 makes Mailjet retry; a 401 here means the credentials do not match.',
  ].join('\n');
}

export const mailjet = {
  id: 'mailjet',
  displayName: 'Mailjet',
  ...auth,
  parse,
  setup,
} satisfies ProviderAdapter;
