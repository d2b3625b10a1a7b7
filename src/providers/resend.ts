import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { parseBodyJson } from './json.js';
import { signatureHeaders, validateSecretConfig, verifySignedRequest } from './resend-signature.js';
import { credentialStep, nextStep } from './setup-credential.js';
import type {
  ParseResult,
  ProviderAdapter,
  RawRequest,
  Source,
  Verification,
  VerifyContext,
} from './types.js';

/**
 * Resend webhooks, delivered by Svix: one event per POST, `{"type", "created_at", "data": {…}}`,
 * signed with Standard Webhooks under the `svix-*` header names. The `svix-id` is stable across
 * Resend's retries and is the dedup key; the body carries no event id of its own.
 */
const PREFIXES = ['svix', 'webhook'] as const;

const EVENT_TYPES: Record<string, EmailEventType> = {
  'email.sent': 'email.sent',
  'email.delivered': 'email.delivered',
  'email.delivery_delayed': 'email.deferred',
  'email.complained': 'email.complained',
  'email.bounced': 'email.bounced',
  'email.opened': 'email.opened',
  'email.clicked': 'email.clicked',
  'email.failed': 'email.failed',
  'email.suppressed': 'email.dropped',
};

const SKIP_REASONS: Record<string, string> = {
  'email.scheduled': 'the email is only scheduled; email.sent follows when Resend sends it',
  'email.received': 'an inbound email, not an event of an email you sent',
};

/** Bounce sub-types meaning Resend refused to send to a known-bad address (never attempted). */
const SUPPRESSION_SUBTYPES = new Set(['suppressed', 'onaccountsuppressionlist']);

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

// ISO 8601 with an optional zone; Resend writes both `…126Z` and `…894719+00:00`.
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses an ISO 8601 instant to the millisecond (extra fraction digits are truncated). Unlike
 * `new Date()`, a time without a zone is read as UTC, never as the server's local time.
 */
export function parseInstant(text: string): Date | null {
  const m = ISO_INSTANT.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number);
  const millis = Number(`${m[7] ?? ''}000`.slice(0, 3));
  const utc = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!, millis);
  const date = new Date(utc);
  // Date.UTC rolls 2024-02-30 over to March; refuse it instead.
  const rolled = date.getUTCMonth() + 1 !== month || date.getUTCDate() !== day;
  if (rolled || hour! > 23 || minute! > 59 || second! > 59) return null;
  const zone = (m[8] ?? 'Z').toUpperCase();
  if (zone === 'Z') return date;
  const digits = zone.replace(':', '');
  const offsetMin = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || '0');
  return new Date(utc - (zone.startsWith('-') ? -offsetMin : offsetMin) * 60_000);
}

function timestampOf(body: JsonObject, headerTimestamp: string): Date {
  // `created_at` is when the event happened; `data.created_at` is when the email was created, and
  // the svix-timestamp changes on every retry, so it is only a fallback.
  if (body.created_at !== undefined) {
    const date = typeof body.created_at === 'string' ? parseInstant(body.created_at) : null;
    if (!date) throw new MalformedPayloadError('created_at is not an ISO 8601 date-time');
    return date;
  }
  if (/^\d{1,12}$/.test(headerTimestamp)) return new Date(Number(headerTimestamp) * 1000);
  throw new MalformedPayloadError('created_at is missing');
}

/** `Name <addr@example.com>` or `addr@example.com` → `addr@example.com`; null when not one address. */
function addressOf(entry: unknown): string | null {
  if (typeof entry !== 'string') return null;
  const angle = /<([^<>]+)>\s*$/.exec(entry);
  const address = (angle?.[1] ?? entry).trim().toLowerCase();
  return /^[^\s,@]+@[^\s,@]+$/.test(address) ? address : null;
}

function hasCopyRecipients(data: JsonObject): boolean {
  if ((Array.isArray(data.cc) && data.cc.length > 0) || (Array.isArray(data.bcc) && data.bcc.length > 0)) {
    return true;
  }
  if (!Array.isArray(data.headers)) return false;
  return data.headers.some(
    (h) => isObject(h) && /^b?cc$/i.test(String(h.name)) && stringOrNull(h.value) !== null,
  );
}

/**
 * Resend posts one webhook per recipient of a multi-recipient email (cc and bcc included), each
 * carrying the whole `to` list and nothing saying which recipient it is about. So the recipient is
 * known only when the email had exactly one address; otherwise it is null rather than a guess
 * (a bounce pinned on the wrong address would suppress a good one).
 */
function recipientOf(data: JsonObject): string | null {
  const entries = Array.isArray(data.to) ? data.to : [data.to];
  const addresses = new Set(entries.map(addressOf));
  if (addresses.size !== 1 || hasCopyRecipients(data)) return null;
  return [...addresses][0] ?? null;
}

function scalarText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** Tags arrive as an object `{name: value}` (documented) or as the send API's `[{name, value}]`. */
function tagEntries(value: unknown): Array<[string, string]> {
  if (isObject(value)) return Object.entries(value).map(([name, v]) => [name, scalarText(v)]);
  if (!Array.isArray(value)) return [];
  return value.flatMap(
    (tag): Array<[string, string]> =>
      isObject(tag) && typeof tag.name === 'string' ? [[tag.name, scalarText(tag.value)]] : [],
  );
}

/** Older payloads echo the email's custom headers as `[{name, value}]`; they are user data too. */
function headerMap(value: unknown): Record<string, string> | null {
  if (!Array.isArray(value)) return null;
  const headers: Record<string, string> = {};
  for (const h of value) if (isObject(h) && typeof h.name === 'string') headers[h.name] = scalarText(h.value);
  return headers;
}

function metadataOf(data: JsonObject, tags: Array<[string, string]>): Record<string, unknown> {
  const metadata: Record<string, unknown> = Object.fromEntries(tags);
  const headers = headerMap(data.headers);
  if (headers && !('headers' in metadata)) metadata.headers = headers;
  return metadata;
}

/** `smtp; 550 5.1.1 …` → `5.1.1` (enhanced status code), else the reply code `550`. */
function statusCodeOf(diagnostic: unknown): string | null {
  const first = Array.isArray(diagnostic) ? diagnostic.find((d) => typeof d === 'string') : diagnostic;
  if (typeof first !== 'string') return null;
  return /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(first)?.[1] ?? /\b([245]\d\d)\b/.exec(first)?.[1] ?? null;
}

/** Resend's bounce types are SES's: Permanent, Transient, Undetermined. */
function bounceTypeOf(type: string | null): BounceType {
  const kind = type?.toLowerCase();
  if (kind === 'permanent' || kind === 'hard') return 'hard';
  if (kind === 'transient' || kind === 'temporary' || kind === 'soft') return 'soft';
  return 'undetermined';
}

function isSuppressionBounce(bounce: JsonObject): boolean {
  const subType = stringOrNull(bounce.subType);
  if (subType) return SUPPRESSION_SUBTYPES.has(subType.toLowerCase());
  // Payloads from before sub-types existed say so only in the message.
  return /suppressed sending/i.test(stringOrNull(bounce.message) ?? '');
}

function bounceOf(bounce: JsonObject, type: BounceType): BounceInfo {
  return { type, code: statusCodeOf(bounce.diagnosticCode), reason: stringOrNull(bounce.message) };
}

function buildEvent(
  type: EmailEventType,
  body: JsonObject,
  data: JsonObject,
  svixId: string,
  headerTimestamp: string,
): ParsedEvent {
  const tags = tagEntries(data.tags);
  const click = isObject(data.click) ? data.click : {};
  const event: ParsedEvent = {
    type,
    timestamp: timestampOf(body, headerTimestamp),
    dedupKey: svixId,
    data: {
      provider_event_id: svixId,
      // The id the send API returned (`{"id": …}`); `data.message_id` is the SMTP Message-ID.
      message_id: stringOrNull(data.email_id),
      recipient: recipientOf(data),
      user_agent: stringOrNull(click.userAgent),
      ip: stringOrNull(click.ipAddress),
      tags: tags.map(([name, value]) => `${name}:${value}`),
      metadata: metadataOf(data, tags),
      raw: body,
    },
  };
  if (type === 'email.bounced') {
    const bounce = isObject(data.bounce) ? data.bounce : {};
    if (isSuppressionBounce(bounce)) {
      // Documented as an address with a history of hard bounces: refused, never attempted.
      event.type = 'email.dropped';
      event.data.bounce = bounceOf(bounce, 'hard');
    } else {
      event.data.bounce = bounceOf(bounce, bounceTypeOf(stringOrNull(bounce.type)));
    }
  }
  if (type === 'email.dropped') {
    const suppressed = isObject(data.suppressed) ? data.suppressed : {};
    // The account suppression list holds bounced, complained and manually added addresses alike.
    event.data.bounce = { type: 'undetermined', code: null, reason: stringOrNull(suppressed.message) };
  }
  if (type === 'email.clicked') event.data.click = { url: stringOrNull(click.link) };
  if (type === 'email.opened') event.data.open = { machine: false };
  return event;
}

function parse(req: RawRequest): ParseResult {
  const headers = signatureHeaders(req, PREFIXES);
  if (!headers) throw new MalformedPayloadError('svix-id header is missing');
  const body = parseBodyJson(req.body);
  if (!isObject(body)) throw new MalformedPayloadError('body must be a JSON object');
  const name = body.type;
  if (typeof name !== 'string' || name === '') throw new MalformedPayloadError('type is missing');
  const type = EVENT_TYPES[name];
  if (!type) {
    const why = SKIP_REASONS[name] ?? 'not an event of an email you sent';
    return { events: [], skipped: [{ index: 0, reason: `Resend event "${name}": ${why}` }] };
  }
  if (!isObject(body.data)) throw new MalformedPayloadError('data must be an object');
  return { events: [buildEvent(type, body, body.data, headers.id, headers.timestamp)], skipped: [] };
}

function verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification {
  return verifySignedRequest(req, source, ctx, PREFIXES);
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In Resend: Webhooks → Add Webhook (or POST https://api.resend.com/webhooks).',
    `1. Endpoint URL: ${ingestUrl}`,
    '2. Events: all email.* events (contact.*, domain.* and email.received are stored but not mapped).',
    ...credentialStep(source, {
      provider: 'Resend',
      step: 3,
      key: 'secret',
      copy: "the webhook's Signing Secret (whsec_…)",
      example: 'whsec_…',
    }),
    'Resend posts one webhook per recipient without saying which one: send one address per email',
    '(no cc/bcc) to get the recipient on every event.',
    ...nextStep(source, 'secret', 'send an email through Resend'),
  ].join('\n');
}

export const resend = {
  id: 'resend',
  displayName: 'Resend',
  validateConfig: (config: unknown) => validateSecretConfig(config, 'resend'),
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
