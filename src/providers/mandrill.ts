import { createHmac } from 'node:crypto';
import { MailhookError, MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { asConfigObject, requireString, safeEqual, sha256Hex } from './crypto.js';
import { parseJsonLossless } from './json.js';
import { credentialStep, nextStep } from './setup-credential.js';
import {
  type HandshakeResult,
  type ParseResult,
  type ProviderAdapter,
  type RawRequest,
  rejected,
  type SkippedItem,
  type Source,
  type Verification,
  type VerifyContext,
  verified,
} from './types.js';

/**
 * Mandrill / Mailchimp Transactional webhooks.
 * POST application/x-www-form-urlencoded with one field, `mandrill_events` (a JSON array of up to
 * 1000 events). `X-Mandrill-Signature` is base64 HMAC-SHA1, keyed with the webhook's key, of the
 * webhook URL exactly as entered in Mandrill followed by every POST field's name and value, sorted
 * by name, with no separators. Nothing is timestamped, so there is no freshness window.
 */
const SIGNATURE_HEADER = 'x-mandrill-signature';
const EVENTS_FIELD = 'mandrill_events';

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'mandrill');
  const result: Record<string, unknown> = {};
  // Mandrill shows the key only once the webhook (pointing at this source's URL) exists, so a source
  // may be created without one; until it is set every post is refused.
  if (object.webhook_key !== undefined && object.webhook_key !== null) {
    result.webhook_key = requireString(object, 'webhook_key', 'mandrill');
  }
  if (object.url !== undefined && object.url !== null) {
    const url = requireString(object, 'url', 'mandrill');
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      throw new MailhookError(
        'MH_ERR_INVALID_SOURCE_CONFIG',
        'mandrill config.url must be the absolute http(s) webhook URL exactly as entered in Mandrill',
      );
    }
    // Kept verbatim, never normalised: Mandrill signs the exact characters (a trailing slash matters).
    result.url = url;
  }
  return result;
}

/** The form fields in body order; null when a name repeats (the signature would be ambiguous). */
function formPairs(body: Buffer): Array<[string, string]> | null {
  const pairs = [...new URLSearchParams(body.toString('utf8'))];
  const names = new Set(pairs.map(([name]) => name));
  return names.size === pairs.length ? pairs : null;
}

/** base64 HMAC-SHA1 of the URL followed by each field's name and value, sorted by name. */
export function mandrillSignature(key: string, url: string, fields: Array<[string, string]>): string {
  const hmac = createHmac('sha1', key).update(url, 'utf8');
  const sorted = [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of sorted) hmac.update(name, 'utf8').update(value, 'utf8');
  return hmac.digest('base64');
}

/**
 * The URL Mandrill signed: `config.url` when set (behind a proxy the public URL differs from the one
 * mailhook knows), else the ingest URL plus the query string the request arrived with, since Mandrill
 * calls the URL exactly as configured, query included.
 */
function signedUrl(req: RawRequest, source: Source, ctx: VerifyContext): string {
  if (typeof source.config.url === 'string') return source.config.url;
  return req.query ? `${ctx.ingestUrl}?${req.query}` : ctx.ingestUrl;
}

function verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification {
  // Mandrill checks the URL with an unsigned HEAD when a webhook is added (before it even shows the
  // key). The ingest route sends HEAD here rather than answering it like GET, so it is let through
  // to handshake(), which answers 200 and stores nothing: a HEAD carries no event.
  if (req.method === 'HEAD') return verified;
  const signature = req.headers[SIGNATURE_HEADER];
  if (!signature) return rejected('missing X-Mandrill-Signature header');
  const key = source.config.webhook_key;
  if (typeof key !== 'string' || key === '') {
    return rejected('source has no webhook_key yet (the Mandrill webhook key)');
  }
  const fields = formPairs(req.body);
  if (!fields) return rejected('repeated form field');
  const expected = mandrillSignature(key, signedUrl(req, source, ctx), fields);
  return safeEqual(signature.trim(), expected) ? verified : rejected('signature does not match');
}

async function handshake(req: RawRequest): Promise<HandshakeResult | null> {
  return req.method === 'HEAD' ? { status: 200, body: { status: 'ok' }, store: false } : null;
}

const EVENT_TYPES: Record<string, EmailEventType> = {
  send: 'email.sent',
  delivered: 'email.delivered',
  deferral: 'email.deferred',
  hard_bounce: 'email.bounced',
  soft_bounce: 'email.bounced',
  reject: 'email.dropped',
  open: 'email.opened',
  click: 'email.clicked',
  spam: 'email.complained',
  unsub: 'email.unsubscribed',
};

type MandrillEvent = Record<string, unknown>;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** `ts` is documented as the integer UTC Unix time of the event, in seconds. */
function secondsOf(event: MandrillEvent, index: number): number {
  const value = event.ts;
  const seconds = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new MalformedPayloadError(`event ${index}: "ts" is not a Unix time in seconds`);
  }
  return seconds;
}

/** An enhanced status code (`5.1.1`) from the SMTP diagnostic, else its reply code (`550`). */
function codeFromDiag(diag: string | null): string | null {
  if (!diag) return null;
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(diag);
  if (enhanced?.[1]) return enhanced[1];
  const reply = /(?:^|[;\s])([245]\d\d)(?=[\s-]|$)/.exec(diag);
  return reply?.[1] ?? null;
}

function bounceOf(msg: Record<string, unknown>, type: BounceType): BounceInfo {
  const diag = stringOrNull(msg.diag);
  return { type, code: codeFromDiag(diag), reason: diag ?? stringOrNull(msg.bounce_description) };
}

/**
 * A reject never left Mandrill (the address is on the rejection denylist, or policy refused it).
 * Only a denylisting caused by an earlier hard bounce says something about the mailbox.
 */
function rejectOf(msg: Record<string, unknown>): BounceInfo {
  const reject = isObject(msg.reject) ? msg.reject : {};
  const reason =
    stringOrNull(reject.reason) ?? stringOrNull(msg.reject_reason) ?? stringOrNull(msg.bounce_description);
  const hard = reason !== null && /^(hard-bounce|invalid)$/i.test(reason);
  return { type: hard ? 'hard' : 'undetermined', code: codeFromDiag(stringOrNull(msg.diag)), reason };
}

function tagsOf(msg: Record<string, unknown>): string[] {
  return Array.isArray(msg.tags) ? msg.tags.filter((t): t is string => typeof t === 'string') : [];
}

/** Mandrill's PHP backend serialises empty metadata as `[]`. */
function metadataOf(msg: Record<string, unknown>): Record<string, unknown> {
  return isObject(msg.metadata) ? { ...msg.metadata } : {};
}

function parseMessageEvent(
  event: MandrillEvent,
  name: string,
  index: number,
  type: EmailEventType,
): ParsedEvent {
  const msg = event.msg;
  if (!isObject(msg)) throw new MalformedPayloadError(`event ${index}: "msg" is missing`);
  const email = stringOrNull(msg.email);
  if (email === null) throw new MalformedPayloadError(`event ${index}: "msg.email" is missing`);
  // `_id` is the per-recipient id that messages/send returned.
  const messageId = stringOrNull(event._id) ?? stringOrNull(msg._id);
  if (messageId === null) throw new MalformedPayloadError(`event ${index}: "_id" is missing`);
  const seconds = secondsOf(event, index);
  const data: ParsedEvent['data'] = {
    provider_event_id: null,
    message_id: messageId,
    recipient: email.trim().toLowerCase(),
    user_agent: stringOrNull(event.user_agent),
    ip: stringOrNull(event.ip),
    tags: tagsOf(msg),
    metadata: metadataOf(msg),
    raw: event,
  };
  if (name === 'hard_bounce') data.bounce = bounceOf(msg, 'hard');
  if (name === 'soft_bounce') data.bounce = bounceOf(msg, 'soft');
  if (type === 'email.dropped') data.bounce = rejectOf(msg);
  if (type === 'email.clicked') data.click = { url: stringOrNull(event.url) };
  if (type === 'email.opened') data.open = { machine: false };
  if (type === 'email.unsubscribed') data.unsubscribe = { group: null };
  // Mandrill events carry no id of their own: the message, the event name and the second it happened
  // identify one; two clicks in the same second differ by URL.
  const url = stringOrNull(event.url);
  const suffix = type === 'email.clicked' && url ? `:${sha256Hex(url)}` : '';
  return {
    type,
    timestamp: new Date(Math.round(seconds * 1000)),
    dedupKey: `${messageId}:${name}:${String(event.ts)}${suffix}`,
    data,
  };
}

function parse(req: RawRequest): ParseResult {
  const raw = new URLSearchParams(req.body.toString('utf8')).get(EVENTS_FIELD);
  if (raw === null) throw new MalformedPayloadError(`form field "${EVENTS_FIELD}" is missing`);
  let items: unknown;
  try {
    items = parseJsonLossless(raw);
  } catch (err) {
    throw new MalformedPayloadError(`${EVENTS_FIELD} is not valid JSON`, { cause: err });
  }
  if (!Array.isArray(items)) throw new MalformedPayloadError(`${EVENTS_FIELD} is not a JSON array`);
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  items.forEach((item: unknown, index) => {
    if (!isObject(item)) throw new MalformedPayloadError(`event ${index}: not a JSON object`);
    const name = stringOrNull(item.event);
    if (name === null) {
      const sync = stringOrNull(item.type);
      if (sync === null) throw new MalformedPayloadError(`event ${index}: neither "event" nor "type"`);
      const action = stringOrNull(item.action);
      skipped.push({ index, reason: `Mandrill sync event "${sync}"${action ? ` (${action})` : ''}` });
      return;
    }
    const type = EVENT_TYPES[name];
    if (!type) {
      const what = name === 'inbound' ? 'an inbound message' : `event "${name}"`;
      skipped.push({ index, reason: `Mandrill ${what} is not an email event mailhook maps` });
      return;
    }
    events.push(parseMessageEvent(item, name, index, type));
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  const url = typeof source.config.url === 'string' ? source.config.url : ingestUrl;
  return [
    'In Mailchimp Transactional (Mandrill): Settings → Webhooks → Add a Webhook.',
    `1. Post To URL: ${url}`,
    '   Enter it exactly: Mandrill signs this URL, so a trailing slash or a changed query breaks every signature.',
    '2. Tick the events to post (sent, delivered, delayed, bounced, soft-bounced, opened, clicked, spam,',
    '   unsubscribed, rejected) and create the webhook. Mandrill first checks the URL with a HEAD',
    '   request, which mailhook answers with 200.',
    ...credentialStep(source, {
      provider: 'Mandrill',
      step: 3,
      key: 'webhook_key',
      copy: "the webhook's Key",
      example: '…',
    }),
    '   A PATCH replaces the whole config: include config.url in it too when this source has one.',
    '4. If mailhook is reached through a proxy whose public URL differs from the one above, also set',
    '   config.url to the URL exactly as entered in Mandrill.',
    'mailhook refuses every post whose X-Mandrill-Signature does not verify (401); Mandrill retries failed',
    'batches. "Send Test" posts Mandrill\'s example events (or an empty batch): they verify and are stored',
    'like real ones, for the address example.webhook@mandrillapp.com.',
    ...nextStep(source, 'webhook_key', '"Send Test" on the webhook in Mandrill, or send mail'),
  ].join('\n');
}

export const mandrill = {
  id: 'mandrill',
  displayName: 'Mandrill (Mailchimp Transactional)',
  validateConfig,
  verify,
  handshake,
  parse,
  setup,
} satisfies ProviderAdapter;
