import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { credentialAuth, credentialSetup } from './credentials.js';
import { sha256Hex } from './crypto.js';
import { parseBodyJson } from './json.js';
import type { ParseResult, ProviderAdapter, RawRequest, SkippedItem, Source } from './types.js';

/**
 * SMTP2GO webhooks. One POST per event, JSON or form-encoded (the webhook's "Output type"). SMTP2GO
 * signs nothing; the webhook can send an `Authorization` header (basic or bearer) or carry basic
 * auth in its URL, which is what the credential config checks.
 */
const auth = credentialAuth('smtp2go');

/** Documented event names (SMTP2GO support article 223087967 / developers "Webhooks Overview"). */
const EVENT_TYPES: Record<string, EmailEventType> = {
  processed: 'email.sent',
  delivered: 'email.delivered',
  open: 'email.opened',
  click: 'email.clicked',
  bounce: 'email.bounced',
  spam: 'email.complained',
  unsubscribe: 'email.unsubscribed',
  resubscribe: 'email.resubscribed',
  // "if you attempt to send an email to a recipient that has previously hard-bounced, made a spam
  // complaint, or unsubscribed": refused before sending.
  reject: 'email.dropped',
};

/**
 * Spellings SMTP2GO's webhook API uses for subscriptions (`opened`, `spam_complaint`…), which
 * third-party clients also accept in callbacks (UNCONFIRMED as callback names; harmless to accept).
 * They are folded into the documented name so the dedup key does not depend on the spelling.
 */
const ALIASES: Record<string, string> = {
  opened: 'open',
  clicked: 'click',
  bounced: 'bounce',
  spam_complaint: 'spam',
  unsubscribed: 'unsubscribe',
  resubscribed: 'resubscribe',
  rejected: 'reject',
};

/**
 * Fields SMTP2GO sets itself (documented, or seen in captured live callbacks). Anything else at the
 * top level is an email header the user asked the webhook to include ("Email headers" setting),
 * which becomes metadata. Case matters: `message-id` is SMTP2GO's, `Message-Id` a requested header.
 */
const RESERVED_KEYS = new Set([
  'event',
  'time',
  'sendtime',
  'timestamp',
  'sender',
  'from',
  'from_address',
  'from_name',
  'rcpt',
  'recipients',
  'recipients[]',
  'email',
  'auth',
  'host',
  'hostname',
  'srchost',
  'message',
  'context',
  'email_id',
  'id',
  'message-id',
  'bounce',
  'subject',
  'user-agent',
  'read-secs',
  'client',
  'client-device',
  'client-os',
  'geoip-continent',
  'geoip-country',
  'geoip-city',
  'opened-at',
  'clicked-at',
  'url',
  'click_url',
  'link',
]);

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  if (Array.isArray(value)) return stringOrNull(value[value.length - 1]);
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** A form body keeps repeated fields (`recipients` once per address) as arrays. */
function parseFormFields(body: Buffer): Fields {
  const fields: Fields = {};
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    const previous = fields[key];
    if (previous === undefined) fields[key] = value;
    else fields[key] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return fields;
}

function isJson(req: RawRequest): boolean {
  const type = req.headers['content-type'] ?? '';
  if (/json/i.test(type)) return true;
  if (/x-www-form-urlencoded/i.test(type)) return false;
  return /^\s*[[{]/.test(req.body.toString('utf8', 0, Math.min(req.body.length, 64)));
}

function itemsOf(req: RawRequest): unknown[] {
  if (!isJson(req)) return [parseFormFields(req.body)];
  const body = parseBodyJson(req.body);
  return Array.isArray(body) ? body : [body];
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * `time` is documented only as a "UTC timestamp". Live callbacks carry ISO 8601
 * (`2026-03-24T08:23:19Z`, `sendtime` `…19.052765+00:00`); Unix seconds (or milliseconds) are
 * accepted too. A value without a zone is UTC.
 */
function parseTime(value: unknown): Date | null {
  const text = stringOrNull(value)?.trim();
  if (!text) return null;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return new Date(Math.round(n > 1e12 ? n : n * 1000));
  }
  const match = ISO_DATE.exec(text);
  if (!match) return null;
  const [, y, mo, d, h, mi, s = '00', fraction = '', zone] = match;
  const offset = !zone || zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = fraction ? `.${fraction.slice(1, 4).padEnd(3, '0')}` : '';
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${offset}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function timestampOf(fields: Fields, index: number): Date {
  // Not `sendtime`: that is when the email reached SMTP2GO, not when this event happened.
  const date = parseTime(fields.time) ?? parseTime(fields.timestamp);
  if (!date) throw new MalformedPayloadError(`event ${index}: "time" is not a timestamp`);
  return date;
}

function smtpCode(message: string | null): string | null {
  if (!message) return null;
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(message);
  if (enhanced?.[1]) return enhanced[1];
  return /^\s*([245]\d\d)\b/.exec(message)?.[1] ?? null;
}

/** `bounce` is "either hard or soft, depending on how we classify the bounce type". */
function bounceOf(fields: Fields): BounceInfo {
  const declared = stringOrNull(fields.bounce)?.toLowerCase();
  const type: BounceType = declared === 'hard' || declared === 'soft' ? declared : 'undetermined';
  const message = stringOrNull(fields.message);
  return { type, code: smtpCode(message), reason: message ?? stringOrNull(fields.context) };
}

function dropOf(fields: Fields): BounceInfo {
  const message = stringOrNull(fields.message);
  return { type: 'undetermined', code: smtpCode(message), reason: message ?? stringOrNull(fields.context) };
}

/**
 * `processed` concerns the whole email and lists `recipients` (no `rcpt`); it is split into one
 * `email.sent` per address so each recipient gets a timeline. Every other event has one `rcpt`.
 */
function recipientsOf(fields: Fields, name: string): Array<string | null> {
  const rcpt = stringOrNull(fields.rcpt) ?? stringOrNull(fields.email);
  if (rcpt || name !== 'processed') return [rcpt ? rcpt.trim().toLowerCase() : null];
  const list = fields.recipients ?? fields['recipients[]'];
  const values = (Array.isArray(list) ? list : [list])
    .flatMap((v) => (typeof v === 'string' ? v.split(/[,;]/) : []))
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');
  return values.length > 0 ? [...new Set(values)] : [null];
}

function metadataOf(fields: Fields): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (!RESERVED_KEYS.has(key)) metadata[key] = value;
  return metadata;
}

/**
 * SMTP2GO documents no event identifier (live callbacks carry an undocumented `id`, kept as
 * provider_event_id). The dedup key is therefore built from documented fields that a resend of the
 * same notification repeats: the email, the event, the recipient, the event time (and the URL of a
 * click, so two links clicked in the same second stay two events).
 */
function dedupKeyOf(fields: Fields, name: string, recipient: string | null, url: string | null): string {
  const time = stringOrNull(fields.time) ?? stringOrNull(fields.timestamp);
  const parts = [stringOrNull(fields.email_id), name, recipient, time, url];
  return `smtp2go:${sha256Hex(JSON.stringify(parts))}`;
}

function parseItem(fields: Fields, index: number, name: string, type: EmailEventType): ParsedEvent[] {
  const timestamp = timestampOf(fields, index);
  const url = stringOrNull(fields.url) ?? stringOrNull(fields.click_url) ?? stringOrNull(fields.link);
  const engagement = type === 'email.opened' || type === 'email.clicked';
  return recipientsOf(fields, name).map((recipient) => {
    const data: ParsedEvent['data'] = {
      provider_event_id: stringOrNull(fields.id),
      // The id SMTP2GO's /email/send returns (`data.email_id`); also the Message-ID's local part.
      message_id: stringOrNull(fields.email_id),
      recipient,
      user_agent: stringOrNull(fields['user-agent']),
      // `srchost` is the opener's/clicker's address on engagement events, the submitting host otherwise.
      ip: engagement ? stringOrNull(fields.srchost) : null,
      tags: [],
      metadata: metadataOf(fields),
      raw: fields,
    };
    if (type === 'email.bounced') data.bounce = bounceOf(fields);
    if (type === 'email.dropped') data.bounce = dropOf(fields);
    if (type === 'email.clicked') data.click = { url };
    if (type === 'email.opened') data.open = { machine: false };
    if (type === 'email.unsubscribed' || type === 'email.resubscribed') data.unsubscribe = { group: null };
    return { type, timestamp, dedupKey: dedupKeyOf(fields, name, recipient, url), data };
  });
}

function parse(req: RawRequest): ParseResult {
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  itemsOf(req).forEach((item, index) => {
    if (!isObject(item)) throw new MalformedPayloadError(`event ${index}: not an object`);
    const given = stringOrNull(item.event)?.trim().toLowerCase();
    if (!given) {
      skipped.push({ index, reason: 'SMTP2GO request without an "event" field' });
      return;
    }
    const name = ALIASES[given] ?? given;
    const type = EVENT_TYPES[name];
    if (!type) {
      // SMS events and anything new: kept in the inbox, not turned into email events.
      skipped.push({ index, reason: `SMTP2GO event "${name}" is not an email event mailhook maps` });
      return;
    }
    events.push(...parseItem(item, index, name, type));
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In SMTP2GO: Settings → Webhooks → Add Webhook (free plans allow one webhook).',
    ...credentialSetup(source.config, ingestUrl).map((line) => `  ${line}`),
    '1. URL: the webhook URL above. Basic auth can also go in the "Authorization header" field',
    '   (Basic <base64 of username:password>); a bearer token works as config.header',
    '   {"name": "authorization", "value": "Bearer <token>"}.',
    '2. Output type: JSON (form encoded works too).',
    '3. Users: the SMTP users / API keys whose mail should be reported.',
    '4. Email events: processed, delivered, bounce, reject, spam, open, click, unsubscribe, resubscribe.',
    '5. Email headers (optional): headers to echo in each event; they arrive as metadata.',
    'Save, then "Test this webhook". Requests without the credentials are refused (401).',
  ].join('\n');
}

export const smtp2go = {
  id: 'smtp2go',
  displayName: 'SMTP2GO',
  ...auth,
  parse,
  setup,
} satisfies ProviderAdapter;
