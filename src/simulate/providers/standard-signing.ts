import { createHmac } from 'node:crypto';
import { unixSeconds } from '../format.js';
import { KeyError, oneKey } from '../keys.js';
import type { Rng } from '../rng.js';

/**
 * Standard Webhooks signing (Resend through Svix under `svix-*` names, Loops and `standard` under
 * `webhook-*`): `v1,<base64 HMAC-SHA256(base64-decoded whsec secret, id.timestamp.body)>`.
 * Written here from the specification rather than borrowed from the adapters, so the tests that
 * run generated requests through the adapters check the two against each other.
 */
export function whsecKey(keys: string[], provider: string): string {
  const secret = oneKey(keys, provider, 'whsec_<base64>');
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || Buffer.from(body, 'base64').length < 16) {
    throw new KeyError(`--key for ${provider} must be whsec_ followed by base64 of at least 16 bytes`);
  }
  return secret;
}

export function forgeWhsec(rng: Rng): string {
  return `whsec_${Buffer.from(rng.hex(48), 'hex').toString('base64')}`;
}

export function standardHeaders(
  prefix: 'svix' | 'webhook',
  id: string,
  secret: string,
  now: Date,
  body: string,
): Record<string, string> {
  const timestamp = String(unixSeconds(now));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'content-type': 'application/json',
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: timestamp,
    [`${prefix}-signature`]: `v1,${mac}`,
  };
}
