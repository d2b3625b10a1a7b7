import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { MalformedPayloadError } from '../errors.js';
import type { BounceInfo, BounceType, EmailEventType, ParsedEvent } from '../events.js';
import { asConfigObject, sha256Hex } from './crypto.js';
import { parseBodyJson } from './json.js';
import { parsePostalPublicKey, toPem } from './postal-key.js';
import {
  type ParseResult,
  type ProviderAdapter,
  type RawRequest,
  rejected,
  type Source,
  type Verification,
  verified,
} from './types.js';

/**
 * Postal (self-hosted mail server) webhooks.
 * Every request is a JSON envelope `{event, timestamp, uuid, payload}` signed with the server's RSA
 * signing key, PKCS#1 v1.5 over the exact body: `X-Postal-Signature-256` (SHA-256, base64) and, for
 * compatibility, `X-Postal-Signature` (SHA-1, base64) — see postalserver/postal `lib/postal/http.rb`
 * and `app/lib/signer.rb`. Postal ≤ 2 sends only the SHA-1 header.
 */
const SHA256_HEADER = 'x-postal-signature-256';
const SHA1_HEADER = 'x-postal-signature';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const keyCache = new Map<string, KeyObject>();

function publicKeyFrom(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(pem, key);
  }
  return key;
}

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'postal');
  return { public_key: toPem(parsePostalPublicKey(object.public_key)) };
}

/**
 * SHA-256 is verified whenever its header is present, with no fallback: a request that carries a
 * bad SHA-256 signature is refused even if its SHA-1 one is good, so stripping or corrupting the
 * stronger header cannot downgrade verification. Only when the SHA-256 header is absent (Postal
 * before v3) is the SHA-1 signature accepted — weaker (SHA-1 collisions are practical), documented.
 * There is no freshness check: Postal signs only the body and retries the same body for ~36 minutes
 * (2, 3, 6, 10, 15 min); a replay carries the same `uuid` and is dropped by deduplication.
 */
function verify(req: RawRequest, source: Source): Verification {
  const pem = source.config.public_key;
  if (typeof pem !== 'string') return rejected('source has no Postal public key');
  const sha256 = req.headers[SHA256_HEADER];
  const sha1 = req.headers[SHA1_HEADER];
  const [algorithm, signature] =
    sha256 !== undefined ? ['sha256', sha256] : sha1 !== undefined ? ['sha1', sha1] : [null, ''];
  if (!algorithm) return rejected('missing X-Postal-Signature-256 header');
  const value = signature.trim();
  if (!BASE64.test(value)) return rejected('signature is malformed');
  try {
    const ok = verifySignature(algorithm, req.body, publicKeyFrom(pem), Buffer.from(value, 'base64'));
    return ok ? verified : rejected('signature does not match');
  } catch {
    return rejected('signature could not be checked');
  }
}

const EVENT_TYPES: Record<string, EmailEventType> = {
  MessageSent: 'email.delivered',
  MessageDelayed: 'email.deferred',
  MessageDeliveryFailed: 'email.bounced',
  MessageHeld: 'email.dropped',
  MessageBounced: 'email.bounced',
  MessageLinkClicked: 'email.clicked',
  MessageLoaded: 'email.opened',
};

/** Documented server-level events: they concern no email, so they are recorded as skipped. */
const SERVER_EVENTS = new Set(['DomainDNSError', 'SendLimitApproaching', 'SendLimitExceeded']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** Enhanced status code (`5.1.1`) when the SMTP output has one, else the reply code (`550`). */
function smtpCode(output: string | null): string | null {
  if (!output) return null;
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(output);
  if (enhanced?.[1]) return enhanced[1];
  return /^\s*([245]\d\d)\b/.exec(output)?.[1] ?? null;
}

/** Postal's `timestamp` is Unix seconds with a fraction (`1477945177.12994`). */
function timestampOf(envelope: Json, payload: Json): Date {
  for (const value of [envelope.timestamp, payload.timestamp]) {
    const seconds = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) {
      return new Date(Math.round(seconds * 1000));
    }
  }
  throw new MalformedPayloadError('"timestamp" is not a Unix time in seconds');
}

/**
 * `MessageBounced` reports a bounce message Postal received for an accepted email; the webhook
 * carries no classification in the documented payload. Some Postal builds add `bounce_type`
 * ("hard"/"soft") to the message hashes (UNCONFIRMED upstream); it is used when present.
 */
function asyncBounceOf(payload: Json): BounceInfo {
  const bounce = isObject(payload.bounce) ? payload.bounce : {};
  const original = isObject(payload.original_message) ? payload.original_message : {};
  const declared = stringOrNull(bounce.bounce_type ?? original.bounce_type)?.toLowerCase();
  const type: BounceType = declared === 'hard' || declared === 'soft' ? declared : 'undetermined';
  return { type, code: null, reason: stringOrNull(bounce.subject) };
}

function bounceOf(name: string, payload: Json): BounceInfo | undefined {
  const output = stringOrNull(payload.output);
  const details = stringOrNull(payload.details);
  // HardFail: Postal gave up and will not retry — a permanent failure for this recipient.
  if (name === 'MessageDeliveryFailed')
    return { type: 'hard', code: smtpCode(output), reason: output ?? details };
  if (name === 'MessageBounced') return asyncBounceOf(payload);
  // Held: kept back by Postal (suppression list, send limit, spam…) — never attempted.
  if (name === 'MessageHeld')
    return { type: 'undetermined', code: smtpCode(output), reason: details ?? output };
  return undefined;
}

/** The message id Postal's send API returns (`message_id`), which is the email's Message-ID header. */
function messageIdOf(message: Json): string | null {
  const id = stringOrNull(message.message_id);
  return id ? id.replace(/^<|>$/g, '') : null;
}

function parseEvent(envelope: Json, name: string, type: EmailEventType, body: Buffer): ParseResult {
  const payload = envelope.payload;
  if (!isObject(payload)) throw new MalformedPayloadError('"payload" is not an object');
  const message = name === 'MessageBounced' ? payload.original_message : payload.message;
  if (!isObject(message)) throw new MalformedPayloadError(`${name}: the message object is missing`);
  if (message.direction === 'incoming') {
    // Status events also report deliveries of *incoming* mail to the user's routes; not sent email.
    return { events: [], skipped: [{ index: 0, reason: `Postal ${name} for an incoming message` }] };
  }
  const uuid = stringOrNull(envelope.uuid);
  const recipient = stringOrNull(message.to);
  const tag = stringOrNull(message.tag);
  const data: ParsedEvent['data'] = {
    provider_event_id: uuid,
    message_id: messageIdOf(message),
    recipient: recipient ? recipient.trim().toLowerCase() : null,
    user_agent: stringOrNull(payload.user_agent),
    ip: stringOrNull(payload.ip_address),
    tags: tag ? [tag] : [],
    metadata: {},
    raw: envelope,
  };
  const bounce = bounceOf(name, payload);
  if (bounce) data.bounce = bounce;
  if (type === 'email.clicked') data.click = { url: stringOrNull(payload.url) };
  // Postal does not tell proxy (Apple MPP) opens apart from human ones.
  if (type === 'email.opened') data.open = { machine: false };
  const event: ParsedEvent = {
    type,
    timestamp: timestampOf(envelope, payload),
    // `uuid` is documented as "the same across all delivery attempts" and meant for deduplication.
    dedupKey: uuid ?? `sha256:${sha256Hex(body)}`,
    data,
  };
  return { events: [event], skipped: [] };
}

function parse(req: RawRequest): ParseResult {
  const envelope = parseBodyJson(req.body);
  if (!isObject(envelope)) throw new MalformedPayloadError('body is not a JSON object');
  const name = stringOrNull(envelope.event);
  if (name === null) {
    // A route's HTTP endpoint payload (an incoming email) signed with the same key: not an event.
    const reason = 'not a Postal webhook event (no "event"; an incoming-message HTTP endpoint payload?)';
    return { events: [], skipped: [{ index: 0, reason }] };
  }
  const type = EVENT_TYPES[name];
  if (!type) {
    const reason = SERVER_EVENTS.has(name)
      ? `Postal ${name} is a server event, not an email event`
      : `Postal event "${name}" is not an email event mailhook maps`;
    return { events: [], skipped: [{ index: 0, reason }] };
  }
  return parseEvent(envelope, name, type, req.body);
}

function setup(_source: Source, ingestUrl: string): string {
  return [
    'In Postal: open the mail server → Webhooks → Add webhook.',
    `1. URL: ${ingestUrl}`,
    '2. Send all events, or choose MessageSent, MessageDelayed, MessageDeliveryFailed, MessageHeld,',
    '   MessageBounced, MessageLinkClicked and MessageLoaded; enable the webhook and save.',
    "3. This source's config.public_key is the public half of Postal's signing key, any of:",
    '   - the JWK from https://<your-postal-host>/.well-known/jwks.json (Postal 3+),',
    '   - openssl rsa -in /opt/postal/config/signing.key -pubout (PEM; never paste signing.key itself),',
    '   - the p= value printed by `postal default-dkim-record` (older installs).',
    'mailhook verifies X-Postal-Signature-256 (RSA-SHA256); requests from Postal versions that only send',
    'X-Postal-Signature (RSA-SHA1) are accepted too. Anything that does not verify is refused (401).',
  ].join('\n');
}

export const postal = {
  id: 'postal',
  displayName: 'Postal',
  validateConfig,
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
