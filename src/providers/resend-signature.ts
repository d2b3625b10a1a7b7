import { MailhookError } from '../errors.js';
import { asConfigObject, checkFreshness, decodeWebhookSecret, verifyStandardSignature } from './crypto.js';
import {
  type RawRequest,
  rejected,
  type Source,
  type Verification,
  type VerifyContext,
  verified,
} from './types.js';

/**
 * Standard Webhooks verification shared by the providers that sign that way under their own header
 * names: Resend (through Svix: `svix-id`, `svix-timestamp`, `svix-signature`) and Loops
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The algorithm and the `whsec_` secret are
 * the same; only the header prefix differs.
 */
export type HeaderPrefix = 'svix' | 'webhook';

export interface SignatureHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

/** The first prefix whose three headers are all present wins; null when none is complete. */
export function signatureHeaders(
  req: RawRequest,
  prefixes: readonly HeaderPrefix[],
): SignatureHeaders | null {
  for (const prefix of prefixes) {
    const id = req.headers[`${prefix}-id`];
    const timestamp = req.headers[`${prefix}-timestamp`];
    const signature = req.headers[`${prefix}-signature`];
    if (id && timestamp && signature) return { id, timestamp, signature };
  }
  return null;
}

export function verifySignedRequest(
  req: RawRequest,
  source: Source,
  ctx: VerifyContext,
  prefixes: readonly HeaderPrefix[],
): Verification {
  const headers = signatureHeaders(req, prefixes);
  if (!headers) return rejected(`missing ${prefixes[0]}-id, -timestamp or -signature header`);
  const fresh = checkFreshness(headers.timestamp, ctx);
  if (!fresh.ok) return fresh;
  const secret = source.config.secret;
  const key = typeof secret === 'string' ? decodeWebhookSecret(secret) : null;
  if (!key) return rejected('source has no signing secret yet');
  const ok = verifyStandardSignature({
    id: headers.id,
    timestamp: headers.timestamp,
    body: req.body,
    signatureHeader: headers.signature,
    key,
  });
  return ok ? verified : rejected('signature does not match');
}

/**
 * `{"secret": "whsec_…"}`. The provider shows the secret only once the webhook (with mailhook's
 * ingest URL) exists, so a source may be created without it and given it later by PATCH; until then
 * every post is refused. Any other key is refused, so a misspelt `signing_secret` is not silently
 * accepted as "no secret yet".
 */
export function validateSecretConfig(config: unknown, provider: string): Record<string, unknown> {
  const object = asConfigObject(config, provider);
  const unknown = Object.keys(object).filter((key) => key !== 'secret');
  if (unknown.length > 0) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      `${provider} config accepts only "secret" (got ${unknown.map((k) => `"${k}"`).join(', ')})`,
    );
  }
  if (object.secret === undefined || object.secret === null) return {};
  const secret = typeof object.secret === 'string' ? object.secret.trim() : null;
  if (!secret || !decodeWebhookSecret(secret)) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      `${provider} config.secret must be the signing secret as shown: whsec_ followed by base64 of at least 16 bytes`,
    );
  }
  return { secret };
}
