import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { MailhookError } from '../errors.js';
import { rejected, type Verification, type VerifyContext, verified } from './types.js';

/** Constant-time comparison of two strings (length differences leak only the length). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacSha256(key: Buffer | string, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * Checks a provider's signed Unix timestamp (seconds, decimal string) against the tolerance, in
 * both directions: a clock running ahead is as suspicious as an old replay.
 */
export function checkFreshness(
  timestamp: string,
  ctx: Pick<VerifyContext, 'now' | 'toleranceSec'>,
): Verification {
  if (!/^\d{1,12}$/.test(timestamp)) return rejected('timestamp is not a Unix time in seconds');
  if (ctx.toleranceSec === 0) return verified;
  const ageSec = Math.abs(ctx.now.getTime() / 1000 - Number(timestamp));
  return ageSec <= ctx.toleranceSec ? verified : rejected('timestamp outside the tolerance window');
}

const WHSEC_PREFIX = 'whsec_';

/** Decodes a Standard Webhooks secret (`whsec_<base64>`), or null when it is not one. */
export function decodeWebhookSecret(secret: string): Buffer | null {
  if (!secret.startsWith(WHSEC_PREFIX)) return null;
  const body = secret.slice(WHSEC_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return null;
  const key = Buffer.from(body, 'base64');
  return key.length >= 16 ? key : null;
}

export interface StandardSignatureInput {
  id: string;
  timestamp: string;
  body: Buffer;
  /** Space-separated list of `v1,<base64>` entries. */
  signatureHeader: string;
  key: Buffer;
}

/** The Standard Webhooks signed content is `id.timestamp.body`, signed with HMAC-SHA256. */
export function signStandard(id: string, timestamp: string, body: Buffer | string, key: Buffer): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export function verifyStandardSignature(input: StandardSignatureInput): boolean {
  const expected = signStandard(input.id, input.timestamp, input.body, input.key).slice(3);
  let match = false;
  // Several signatures are allowed (secret rotation); compare every one so timing says nothing.
  for (const entry of input.signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    if (safeEqual(entry.slice(comma + 1), expected)) match = true;
  }
  return match;
}

/** Reads a required non-empty string from a source config, or throws a config error naming it. */
export function requireString(config: Record<string, unknown>, key: string, provider: string): string {
  const value = config[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      `${provider} sources need config.${key} (a string)`,
    );
  }
  return value.trim();
}

export function asConfigObject(config: unknown, provider: string): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new MailhookError('MH_ERR_INVALID_SOURCE_CONFIG', `${provider} sources need a config object`);
  }
  return config as Record<string, unknown>;
}
