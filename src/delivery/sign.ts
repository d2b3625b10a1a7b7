/**
 * Standard Webhooks signing for outbound deliveries. The HMAC itself lives in providers/crypto.ts,
 * shared with inbound verification, so both directions sign exactly the same content.
 */
import { randomBytes } from 'node:crypto';
import { MailhookError } from '../errors.js';
import { decodeWebhookSecret, signStandard } from '../providers/crypto.js';

/**
 * The `webhook-signature` value: one `v1,<base64>` entry per secret, newest first. During a
 * rotation the old secret keeps signing alongside the new one, so a receiver still holding either
 * verifies the delivery.
 */
export function signatureHeader(secrets: string[], id: string, timestamp: number, body: string): string {
  if (secrets.length === 0) {
    throw new MailhookError('MH_ERR_VALIDATION', 'an endpoint needs at least one signing secret');
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`timestamp must be whole Unix seconds, got ${timestamp}`);
  }
  return secrets
    .map((secret, index) => {
      const key = decodeWebhookSecret(secret);
      // The secret itself never goes into a message (it would end up in logs).
      if (key === null) {
        throw new MailhookError(
          'MH_ERR_VALIDATION',
          `signing secret #${index + 1} is not a whsec_<base64> secret of at least 16 bytes`,
        );
      }
      return signStandard(id, String(timestamp), body, key);
    })
    .join(' ');
}

/** Headers mailhook sets itself; an endpoint's custom headers cannot replace them. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

/**
 * All headers of one delivery attempt, names in lower case. Custom headers come first and the
 * reserved ones are written over them, compared case-insensitively, so `Webhook-Signature` in an
 * endpoint's configuration can neither forge nor break the signature.
 */
export function webhookHeaders(input: {
  id: string;
  timestamp: number;
  body: string;
  secrets: string[];
  userAgent: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  // A Map, not an object literal, so a header named `__proto__` stays a plain header.
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(input.extra ?? {})) {
    const lower = name.toLowerCase();
    if (!RESERVED_HEADERS.has(lower)) headers.set(lower, value);
  }
  headers.set('content-type', 'application/json');
  headers.set('user-agent', input.userAgent);
  headers.set('webhook-id', input.id);
  headers.set('webhook-timestamp', String(input.timestamp));
  headers.set('webhook-signature', signatureHeader(input.secrets, input.id, input.timestamp, input.body));
  return Object.fromEntries(headers);
}

/** A new endpoint secret: 24 random bytes (192 bits), the size the Standard Webhooks spec suggests. */
export function generateSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}
