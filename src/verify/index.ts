/**
 * `mailhook/verify`: the receiver's side of a mailhook delivery. Checks the Standard Webhooks
 * signature and timestamp of a request an endpoint received and returns the typed canonical event,
 * or throws a WebhookVerificationError saying exactly why not.
 *
 * ```ts
 * import { verifyDelivery, WebhookVerificationError } from 'mailhook/verify';
 * const event = verifyDelivery({ body: rawBody, headers: req.headers, secret: process.env.MAILHOOK_SECRET });
 * ```
 *
 * It uses the same HMAC code mailhook signs with, and nothing of the server: importing it opens no
 * database and starts nothing.
 */
import type { CanonicalEvent } from '../events.js';
import { decodeWebhookSecret, safeEqual, signStandard } from '../providers/crypto.js';

export type {
  BounceInfo,
  BounceType,
  CanonicalEvent,
  EmailEventType,
  EventData,
} from '../events.js';
export { EMAIL_EVENT_TYPES, isEmailEventType } from '../events.js';

/** Why a delivery was refused; stable, so a receiver can branch on it. */
export type VerificationFailure =
  /** `secret`/`secrets` missing or not a `whsec_<base64>` secret: a configuration mistake. */
  | 'invalid_secret'
  /** The body was not passed as the raw bytes or string received (e.g. already parsed JSON). */
  | 'invalid_body'
  /** `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent. */
  | 'missing_header'
  /** `webhook-timestamp` is not whole Unix seconds. */
  | 'invalid_timestamp'
  /** Signed longer ago than the tolerance: a replayed or long-delayed request. */
  | 'timestamp_too_old'
  /** Signed further in the future than the tolerance: a clock problem or a forgery. */
  | 'timestamp_too_new'
  /** No `v1,` signature in the header matches any of the secrets. */
  | 'signature_mismatch'
  /** Signed correctly, but the body is not a canonical event. */
  | 'invalid_payload';

export class WebhookVerificationError extends Error {
  readonly reason: VerificationFailure;

  constructor(reason: VerificationFailure, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}

/** Node's `IncomingHttpHeaders`, a plain object, or a fetch `Headers`. Names are matched case-insensitively. */
export type DeliveryHeaders =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

export interface VerifyDeliveryOptions {
  /** The request body exactly as received: re-serialised JSON does not verify. */
  body: string | Uint8Array;
  headers: DeliveryHeaders;
  /** The endpoint's secret (`whsec_…`). */
  secret?: string;
  /** Several secrets (during a rotation): the delivery verifies if any one of them signed it. */
  secrets?: readonly string[];
  /** Accepted distance between `webhook-timestamp` and now, both ways; default 300; 0 turns it off. */
  toleranceSeconds?: number;
  /** The clock, for tests. */
  now?: Date;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;

function headerOf(headers: DeliveryHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(' ') : value;
}

function keysOf(options: VerifyDeliveryOptions): Buffer[] {
  const secrets = [...(options.secrets ?? []), ...(options.secret === undefined ? [] : [options.secret])];
  if (secrets.length === 0) {
    throw new WebhookVerificationError('invalid_secret', 'pass the endpoint secret as `secret` or `secrets`');
  }
  return secrets.map((secret, index) => {
    const key = typeof secret === 'string' ? decodeWebhookSecret(secret.trim()) : null;
    // The secret itself never goes into the message: errors end up in logs.
    if (key === null) {
      throw new WebhookVerificationError(
        'invalid_secret',
        `secret #${index + 1} is not a whsec_<base64> secret of at least 16 bytes`,
      );
    }
    return key;
  });
}

function bodyOf(body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new WebhookVerificationError(
    'invalid_body',
    `body must be the raw request body (string or bytes), got ${body === null ? 'null' : typeof body}: ` +
      'parsed JSON cannot be verified, read the body as text first',
  );
}

function checkTimestamp(value: string, options: VerifyDeliveryOptions): void {
  if (!/^\d{1,12}$/.test(value)) {
    throw new WebhookVerificationError(
      'invalid_timestamp',
      `webhook-timestamp must be Unix seconds, got "${value.slice(0, 40)}"`,
    );
  }
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (tolerance === 0) return;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const drift = now - Number(value);
  if (drift > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_too_old',
      `signed ${drift} s ago, more than the ${tolerance} s tolerance (a replay, or a very late request)`,
    );
  }
  if (-drift > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_too_new',
      `signed ${-drift} s in the future, more than the ${tolerance} s tolerance (check the clocks)`,
    );
  }
}

function eventOf(body: Buffer): CanonicalEvent {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new WebhookVerificationError('invalid_payload', `body is not JSON: ${(err as Error).message}`);
  }
  const event = value as Partial<CanonicalEvent> | null;
  const ok =
    event !== null &&
    typeof event === 'object' &&
    typeof event.id === 'string' &&
    typeof event.type === 'string' &&
    typeof event.timestamp === 'string' &&
    event.data !== null &&
    typeof event.data === 'object';
  if (!ok) {
    throw new WebhookVerificationError(
      'invalid_payload',
      'body is not a canonical event {"id", "type", "timestamp", "data"}',
    );
  }
  return event as CanonicalEvent;
}

/**
 * Verifies one delivery and returns its event. Checks, in order: the secrets, the body, the three
 * headers, the timestamp's freshness, then the signature (constant-time, every `v1,` entry against
 * every secret), and only then parses the body.
 */
export function verifyDelivery(options: VerifyDeliveryOptions): CanonicalEvent {
  const keys = keysOf(options);
  const body = bodyOf(options.body);
  const id = headerOf(options.headers, 'webhook-id');
  const timestamp = headerOf(options.headers, 'webhook-timestamp');
  const signature = headerOf(options.headers, 'webhook-signature');
  const missing = [
    ...(id ? [] : ['webhook-id']),
    ...(timestamp ? [] : ['webhook-timestamp']),
    ...(signature ? [] : ['webhook-signature']),
  ];
  if (!id || !timestamp || !signature) {
    throw new WebhookVerificationError('missing_header', `missing header: ${missing.join(', ')}`);
  }
  checkTimestamp(timestamp.trim(), options);
  const offered = signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice(3));
  if (offered.length === 0) {
    throw new WebhookVerificationError(
      'signature_mismatch',
      'webhook-signature holds no "v1,<base64>" signature',
    );
  }
  let match = false;
  for (const key of keys) {
    const expected = signStandard(id, timestamp.trim(), body, key).slice(3);
    for (const candidate of offered) if (safeEqual(candidate, expected)) match = true;
  }
  if (!match) {
    throw new WebhookVerificationError(
      'signature_mismatch',
      `no signature matches ${keys.length === 1 ? 'the secret' : `any of the ${keys.length} secrets`}: ` +
        'a wrong secret, or a body changed on the way (verify the raw body, not re-serialised JSON)',
    );
  }
  return eventOf(body);
}
