import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { MailhookError, MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { asConfigObject, checkFreshness, requireString, sha256Hex } from './crypto.js';
import { credentialStep, nextStep } from './setup-credential.js';
import {
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
 * SendGrid (Twilio) Event Webhook.
 * Signed Event Webhook: ECDSA P-256 / SHA-256 over the timestamp header's bytes immediately followed
 * by the raw body; the signature header is base64 of a DER `SEQUENCE{r,s}`, the public key the
 * dashboard shows is base64 DER SubjectPublicKeyInfo. Bodies are JSON arrays of events.
 */
const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

const keyCache = new Map<string, KeyObject>();

function publicKeyFrom(base64Der: string): KeyObject {
  let key = keyCache.get(base64Der);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(base64Der, 'base64'), format: 'der', type: 'spki' });
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(base64Der, key);
  }
  return key;
}

/** Accepts the key as SendGrid shows it (base64 DER), tolerating PEM armour and line breaks. */
function normalisePublicKey(text: string): string {
  return text
    .replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '')
    .replace(/\s+/g, '')
    .trim();
}

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'sendgrid');
  // SendGrid shows the key only after the webhook (with our URL) exists, so a source may be created
  // without one; until it is set every post is refused.
  if (object.public_key === undefined || object.public_key === null) return {};
  const publicKey = normalisePublicKey(requireString(object, 'public_key', 'sendgrid'));
  let key: KeyObject;
  try {
    key = publicKeyFrom(publicKey);
  } catch (err) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      'sendgrid config.public_key is not a base64 DER public key (copy the "Verification Key" from Mail Settings → Event Webhook)',
      { cause: err },
    );
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      'sendgrid config.public_key must be an ECDSA P-256 key',
    );
  }
  return { public_key: publicKey };
}

function verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification {
  const signature = req.headers[SIGNATURE_HEADER];
  const timestamp = req.headers[TIMESTAMP_HEADER];
  if (!signature || !timestamp) return rejected('missing SendGrid signature headers');
  const fresh = checkFreshness(timestamp, ctx);
  if (!fresh.ok) return fresh;
  const publicKey = source.config.public_key;
  if (typeof publicKey !== 'string')
    return rejected('source has no public_key yet (SendGrid Verification Key)');
  try {
    const payload = Buffer.concat([Buffer.from(timestamp, 'utf8'), req.body]);
    const ok = verifySignature(
      'sha256',
      payload,
      { key: publicKeyFrom(publicKey), dsaEncoding: 'der' },
      Buffer.from(signature, 'base64'),
    );
    return ok ? verified : rejected('signature does not match');
  } catch {
    return rejected('signature is malformed');
  }
}

/** Keys SendGrid itself sets; any other top-level key is a custom arg (unique_args / custom_args). */
const RESERVED_KEYS = new Set([
  'email',
  'timestamp',
  'smtp-id',
  'event',
  'category',
  'sg_event_id',
  'sg_message_id',
  'sg_machine_open',
  'sg_content_type',
  'sg_template_id',
  'sg_template_name',
  'response',
  'attempt',
  'reason',
  'status',
  'type',
  'bounce_classification',
  'ip',
  'useragent',
  'url',
  'url_offset',
  'asm_group_id',
  'tls',
  'cert_err',
  'pool',
  'send_at',
  'marketing_campaign_id',
  'marketing_campaign_name',
  'marketing_campaign_version',
  'marketing_campaign_split_id',
  'mc_stats',
  'post_type',
  'phase_id',
  'singlesend_id',
  'singlesend_name',
  'template_id',
  'template_name',
  'template_version_id',
  'template_hash',
  'newsletter',
  'unique_args',
  'custom_args',
]);

const EVENT_TYPES: Record<string, EmailEventType> = {
  processed: 'email.sent',
  dropped: 'email.dropped',
  deferred: 'email.deferred',
  delivered: 'email.delivered',
  bounce: 'email.bounced',
  open: 'email.opened',
  click: 'email.clicked',
  spamreport: 'email.complained',
  unsubscribe: 'email.unsubscribed',
  group_unsubscribe: 'email.unsubscribed',
  group_resubscribe: 'email.resubscribed',
};

type SendGridEvent = Record<string, unknown>;

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * The id the v3 Mail Send API returns in `X-Message-Id` is the part of `sg_message_id` before its
 * first dot; asynchronous bounces carry no `sg_message_id`, so fall back to the local part of
 * `smtp-id` (SendGrid builds the Message-ID from the same id) or the whole Message-ID.
 */
function messageIdOf(event: SendGridEvent): string | null {
  const sgMessageId = stringOrNull(event.sg_message_id);
  if (sgMessageId) return sgMessageId.split('.')[0] ?? sgMessageId;
  const smtpId = stringOrNull(event['smtp-id']);
  if (!smtpId) return null;
  return smtpId.replace(/^<|>$/g, '');
}

function statusCode(event: SendGridEvent): string | null {
  return stringOrNull(event.status);
}

/** A hard/soft class from an enhanced status code (`5.1.1`) or a reply code (`550`). */
function classFromStatus(code: string | null): BounceType | null {
  if (!code) return null;
  if (/^5/.test(code)) return 'hard';
  if (/^4/.test(code)) return 'soft';
  return null;
}

/**
 * `type: "bounce"` is a permanent rejection by the receiving server (hard); `type: "blocked"` is a
 * temporary block (soft). Older posts carry no `type`; then the status code decides.
 */
function bounceOf(event: SendGridEvent): BounceInfo {
  const code = statusCode(event);
  const kind = stringOrNull(event.type);
  let type: BounceType;
  if (kind === 'bounce') type = 'hard';
  else if (kind === 'blocked') type = 'soft';
  else type = classFromStatus(code) ?? 'undetermined';
  return { type, code, reason: stringOrNull(event.reason) };
}

/**
 * A drop never reached the recipient's server. SendGrid drops addresses it already knows bounced or
 * are invalid (hard); drops for unsubscribes, spam reports or policy say nothing about the mailbox.
 */
function dropOf(event: SendGridEvent): BounceInfo {
  const reason = stringOrNull(event.reason);
  const hard = reason !== null && /bounced address|invalid/i.test(reason);
  return { type: hard ? 'hard' : 'undetermined', code: statusCode(event), reason };
}

function tagsOf(event: SendGridEvent): string[] {
  const category = event.category;
  if (typeof category === 'string') return [category];
  if (Array.isArray(category)) return category.filter((c): c is string => typeof c === 'string');
  return [];
}

function metadataOf(event: SendGridEvent): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (!RESERVED_KEYS.has(key)) metadata[key] = value;
  }
  return metadata;
}

function timestampOf(event: SendGridEvent, index: number): Date {
  const value = event.timestamp;
  const seconds = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new MalformedPayloadError(`event ${index}: "timestamp" is not a Unix time in seconds`);
  }
  // Documented as seconds, but one documented Single Send example is in milliseconds: a value past
  // year 33658 in seconds can only be milliseconds.
  return new Date(Math.round(seconds > 1e12 ? seconds : seconds * 1000));
}

function parseEvent(event: SendGridEvent, index: number, type: EmailEventType): ParsedEvent {
  const email = stringOrNull(event.email);
  if (email === null) throw new MalformedPayloadError(`event ${index}: "email" is missing`);
  const eventId = stringOrNull(event.sg_event_id);
  const data: ParsedEvent['data'] = {
    provider_event_id: eventId,
    message_id: messageIdOf(event),
    recipient: email.trim().toLowerCase(),
    user_agent: stringOrNull(event.useragent),
    ip: stringOrNull(event.ip),
    tags: tagsOf(event),
    metadata: metadataOf(event),
    raw: event,
  };
  if (type === 'email.bounced') data.bounce = bounceOf(event);
  if (type === 'email.dropped') data.bounce = dropOf(event);
  if (type === 'email.clicked') data.click = { url: stringOrNull(event.url) };
  if (type === 'email.opened') data.open = { machine: event.sg_machine_open === true };
  if (type === 'email.unsubscribed' || type === 'email.resubscribed') {
    data.unsubscribe = { group: event.event === 'unsubscribe' ? null : stringOrNull(event.asm_group_id) };
  }
  return {
    type,
    timestamp: timestampOf(event, index),
    // Documented as the key to deduplicate on; a hash of the event stands in if it is ever missing.
    dedupKey: eventId ?? `sha256:${sha256Hex(JSON.stringify(event))}`,
    data,
  };
}

function parse(req: RawRequest): ParseResult {
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch (err) {
    throw new MalformedPayloadError('body is not valid JSON', { cause: err });
  }
  const items = Array.isArray(body) ? body : [body];
  const events: ParsedEvent[] = [];
  const skipped: SkippedItem[] = [];
  items.forEach((item: unknown, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new MalformedPayloadError(`event ${index}: not a JSON object`);
    }
    const event = item as SendGridEvent;
    const name = stringOrNull(event.event);
    if (name === null) throw new MalformedPayloadError(`event ${index}: "event" is missing`);
    const type = EVENT_TYPES[name];
    if (!type) {
      skipped.push({ index, reason: `SendGrid event "${name}" is not an email event mailhook maps` });
      return;
    }
    events.push(parseEvent(event, index, type));
  });
  return { events, skipped };
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In SendGrid: Settings → Mail Settings → Event Webhook → Create new webhook.',
    `1. Post URL: ${ingestUrl}`,
    '2. Select the actions to be posted (delivered, bounced, opened, clicked, …) and enable the webhook.',
    '3. Under Security features, turn on "Signed Event Webhook" and save.',
    ...credentialStep(source, {
      provider: 'SendGrid',
      step: 4,
      key: 'public_key',
      copy: 'the Verification Key SendGrid then shows',
      example: 'MFkw…',
    }),
    'mailhook refuses every post whose signature does not verify with that key (401).',
    ...nextStep(source, 'public_key', '"Test Your Integration" on the webhook in SendGrid, or send mail'),
  ].join('\n');
}

export const sendgrid = {
  id: 'sendgrid',
  displayName: 'SendGrid',
  validateConfig,
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
