import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, EmailEventType, ParsedEvent } from '../events.js';
import { brevoTimeOf } from './brevo-time.js';
import { credentialAuth, credentialSetup } from './credentials.js';
import { parseBodyJson, parseJsonLossless } from './json.js';
import type { ParseResult, ProviderAdapter, RawRequest, SkippedItem, Source } from './types.js';

/**
 * Brevo (ex-Sendinblue) transactional email webhooks.
 * Brevo signs nothing. A webhook can carry basic auth in its URL, a bearer token (`auth`, sent as
 * `Authorization: Bearer <token>`) or custom `headers`; sources map these to `basic_auth` / `header`.
 * One JSON object per event, or (with `batched: true`) several events per post, which arrive as a
 * JSON array. No event id exists: the dedup key is a composite (see `dedupKeyOf`).
 */

const auth = credentialAuth('brevo');

/** `event` values of transactional email webhooks (developers.brevo.com "Transactional webhooks"). */
const EVENT_TYPES: Record<string, EmailEventType> = {
  request: 'email.sent',
  delivered: 'email.delivered',
  deferred: 'email.deferred',
  soft_bounce: 'email.bounced',
  hard_bounce: 'email.bounced',
  blocked: 'email.dropped',
  invalid_email: 'email.dropped',
  spam: 'email.complained',
  // Live posts have carried `complaint` for the same thing (django-anymail test captures).
  complaint: 'email.complained',
  opened: 'email.opened',
  unique_opened: 'email.opened',
  proxy_open: 'email.opened',
  unique_proxy_open: 'email.opened',
  click: 'email.clicked',
  unsubscribed: 'email.unsubscribed',
  unsubscribe: 'email.unsubscribed',
  error: 'email.failed',
};

/** Opens through a privacy proxy (Apple MPP): "Loaded by proxy" in Brevo's logs. */
const MACHINE_OPENS = new Set(['proxy_open', 'unique_proxy_open']);

/** Engagement events: their `sending_ip` is Brevo's sending address, not the reader's. */
const ENGAGEMENT = new Set(['email.opened', 'email.clicked', 'email.unsubscribed', 'email.complained']);

type BrevoEvent = Record<string, unknown>;

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * The transactional send API returns `messageId` in angle brackets (`<2017…@smtp-relay.mailin.fr>`),
 * and live webhook posts carry it the same way, but the documentation samples drop the brackets.
 * Normalising to the bracketed form makes both match what the send call returned.
 */
function messageIdOf(event: BrevoEvent): string | null {
  const id = stringOrNull(event['message-id'])?.trim() ?? null;
  if (id === null) return null;
  return id.startsWith('<') ? id : `<${id}>`;
}

function stringsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v !== '');
}

/**
 * `tags` (array) when the send used the `tags` parameter. Otherwise `tag`: an array in one sample, a
 * JSON-serialised array string in another, a single `X-Mailin-Tag` string, or the template name.
 */
function tagsOf(event: BrevoEvent): string[] {
  if (Array.isArray(event.tags)) return stringsOf(event.tags);
  const tag = event.tag;
  if (Array.isArray(tag)) return stringsOf(tag);
  const text = stringOrNull(tag);
  if (text === null) return [];
  if (text.trim().startsWith('[')) {
    try {
      const parsed = JSON.parse(text);
      if (Array.isArray(parsed)) return stringsOf(parsed);
    } catch {
      // Not JSON after all: a tag that happens to start with "[".
    }
  }
  return [text];
}

/**
 * `X-Mailin-custom` is the header the sender set, echoed verbatim. A JSON object (the usual way to
 * attach ids) becomes the metadata; anything else is kept under the header's name.
 */
function metadataOf(event: BrevoEvent): Record<string, unknown> {
  const custom = stringOrNull(event['X-Mailin-custom']);
  if (custom === null) return {};
  try {
    const parsed = parseJsonLossless(custom);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Plain text header value.
  }
  return { 'X-Mailin-custom': custom };
}

/** Enhanced status code first (`5.1.1`), else a reply code (`550`), from Brevo's free-text `reason`. */
function smtpCodeIn(text: string | null): string | null {
  if (!text) return null;
  const enhanced = /(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])/.exec(text);
  if (enhanced?.[1]) return enhanced[1];
  const reply = /(?<![\d.])([245]\d\d)(?![\d.])/.exec(text);
  return reply?.[1] ?? null;
}

function bounceOf(event: BrevoEvent, name: string): BounceInfo {
  const reason = stringOrNull(event.reason)?.trim() ?? null;
  const code = smtpCodeIn(reason);
  if (name === 'hard_bounce') return { type: 'hard', code, reason };
  if (name === 'soft_bounce') return { type: 'soft', code, reason };
  // invalid_email: the address itself is invalid. blocked: Brevo refused to send to a blocklisted
  // contact (earlier unsubscribe, complaint or bounce), which says nothing certain about the mailbox.
  return { type: name === 'invalid_email' ? 'hard' : 'undetermined', code, reason };
}

/**
 * Brevo documents no event id (`id` is the webhook's id), so an event is identified by what it posts:
 * event name, message id, recipient, its time in milliseconds (see brevo-time.ts for which field) and,
 * for clicks, the link. A retry repeats all of them; the webhook id is left out so one event reaching
 * the same source through two webhooks is stored once. JSON keeps the parts unambiguous.
 */
function dedupKeyOf(
  name: string,
  messageId: string | null,
  recipient: string | null,
  ms: number,
  event: BrevoEvent,
) {
  const parts: unknown[] = [name, messageId, recipient, ms];
  if (name === 'click') parts.push(stringOrNull(event.link));
  return JSON.stringify(parts);
}

function parseEvent(event: BrevoEvent, index: number, name: string, type: EmailEventType): ParsedEvent {
  const time = brevoTimeOf(event);
  if (time === null) {
    throw new MalformedPayloadError(`event ${index}: none of ts_epoch, ts_event, ts or date is a time`);
  }
  const email = stringOrNull(event.email);
  const recipient = email === null ? null : email.trim().toLowerCase();
  const messageId = messageIdOf(event);
  const data: ParsedEvent['data'] = {
    provider_event_id: null,
    message_id: messageId,
    recipient,
    user_agent: stringOrNull(event.user_agent),
    ip: ENGAGEMENT.has(type) ? null : stringOrNull(event.sending_ip),
    tags: tagsOf(event),
    metadata: metadataOf(event),
    raw: event,
  };
  if (type === 'email.bounced' || type === 'email.dropped') data.bounce = bounceOf(event, name);
  if (type === 'email.clicked') data.click = { url: stringOrNull(event.link) };
  if (type === 'email.opened') data.open = { machine: MACHINE_OPENS.has(name) };
  // Transactional unsubscribes are global: Brevo names no list or group.
  if (type === 'email.unsubscribed') data.unsubscribe = { group: null };
  return {
    type,
    timestamp: new Date(time.ms),
    dedupKey: dedupKeyOf(name, messageId, recipient, time.ms, event),
    data,
  };
}

/** Why an item that is not a transactional email event is skipped (kept in the raw inbox row). */
function notTransactionalEmail(event: BrevoEvent): string | null {
  if (event.event === undefined && (event.msg_status !== undefined || event.to !== undefined)) {
    return 'Brevo SMS webhook event: point only transactional email webhooks at this source';
  }
  if (event['message-id'] === undefined && event.camp_id !== undefined) {
    return 'Brevo marketing (campaign) webhook event: point only transactional email webhooks at this source';
  }
  return null;
}

function parse(req: RawRequest): ParseResult {
  const body = parseBodyJson(req.body);
  // Batched webhooks post several events at once; their exact envelope is not documented, an array
  // of the same event objects is what is accepted here (anything else is quarantined, never lost).
  const items = Array.isArray(body) ? body : [body];
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  items.forEach((item: unknown, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new MalformedPayloadError(`event ${index}: not a JSON object`);
    }
    const event = item as BrevoEvent;
    const foreign = notTransactionalEmail(event);
    if (foreign !== null) {
      skipped.push({ index, reason: foreign });
      return;
    }
    const name = stringOrNull(event.event);
    if (name === null) throw new MalformedPayloadError(`event ${index}: "event" is missing`);
    const type = EVENT_TYPES[name];
    if (!type) {
      skipped.push({ index, reason: `Brevo event "${name}" is not an email event mailhook maps` });
      return;
    }
    events.push(parseEvent(event, index, name, type));
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  const { header } = source.config as { header?: { name: string } };
  const api = 'POST https://api.brevo.com/v3/webhooks {"type": "transactional", "url": "…", "events": […]';
  let step3 = `3. Optional, for volume: create it through the API with "batched": true (${api}, "batched": true}).`;
  if (header?.name === 'authorization') {
    step3 = `3. Bearer token (API only): ${api}, "auth": {"type": "bearer", "token": "<token>"}};\n   config.header.value must be "Bearer <token>".`;
  } else if (header) {
    step3 = `3. Custom header (API only): ${api}, "headers": [{"key": "${header.name}", "value": "<config.header.value>"}]}.`;
  }
  return [
    'In Brevo: Settings → Webhooks (https://app.brevo.com/settings/webhooks) → Add a new webhook, transactional email.',
    ...credentialSetup(source.config, ingestUrl),
    '1. URL to call: the URL above (Brevo accepts https://username:password@host/... for basic auth).',
    '2. Tick every event: sent, delivered, deferred, soft bounce, hard bounce, blocked, invalid email,',
    '   marked as spam, opened, first opening, loaded by proxy, clicked, unsubscribed, error.',
    step3,
    'Brevo discards an event after a 4xx answer (except 429): check the credentials before going live.',
  ].join('\n');
}

export const brevo = {
  id: 'brevo',
  displayName: 'Brevo',
  ...auth,
  parse,
  setup,
} satisfies ProviderAdapter;
