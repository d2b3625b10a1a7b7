import { readCanonicalEvent } from '../canonical-input.js';
import { MailhookError, MalformedPayloadError } from '../errors.js';
import { isReservedEventType } from '../events.js';
import {
  asConfigObject,
  checkFreshness,
  decodeWebhookSecret,
  requireString,
  verifyStandardSignature,
} from './crypto.js';
import {
  type ParseResult,
  type ProviderAdapter,
  type RawRequest,
  rejected,
  type Source,
  type Verification,
  type VerifyContext,
  verified,
} from './types.js';

/**
 * Any sender that signs with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`, secret `whsec_…`) and posts one event already in mailhook's canonical shape:
 * `{"type", "timestamp"?, "data": {…}}`. The `webhook-id` is the dedup key, as the spec intends.
 * As with `POST /v1/events`, an `email.*` event's data is read into the canonical email data and
 * any other type keeps its data exactly as posted, so a relay (another mailhook forwarding its own
 * deliveries, say) passes `invoice.paid` on unchanged rather than wrapped in email fields.
 */
const ID_HEADER = 'webhook-id';
const TIMESTAMP_HEADER = 'webhook-timestamp';
const SIGNATURE_HEADER = 'webhook-signature';

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'standard');
  const secret = requireString(object, 'secret', 'standard');
  if (!decodeWebhookSecret(secret)) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      'standard config.secret must be whsec_ followed by base64 of at least 16 bytes',
    );
  }
  return { secret };
}

function verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification {
  const id = req.headers[ID_HEADER];
  const timestamp = req.headers[TIMESTAMP_HEADER];
  const signature = req.headers[SIGNATURE_HEADER];
  if (!id || !timestamp || !signature)
    return rejected('missing webhook-id, webhook-timestamp or webhook-signature');
  const fresh = checkFreshness(timestamp, ctx);
  if (!fresh.ok) return fresh;
  const key = typeof source.config.secret === 'string' ? decodeWebhookSecret(source.config.secret) : null;
  if (!key) return rejected('source has no valid secret');
  const ok = verifyStandardSignature({ id, timestamp, body: req.body, signatureHeader: signature, key });
  return ok ? verified : rejected('signature does not match');
}

function parse(req: RawRequest): ParseResult {
  const id = req.headers[ID_HEADER];
  if (!id) throw new MalformedPayloadError('webhook-id header is missing');
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch (err) {
    throw new MalformedPayloadError('body is not valid JSON', { cause: err });
  }
  const type = (body as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && isReservedEventType(type)) {
    // Another mailhook's operational events, say: they describe its endpoints and sources, not ours.
    return {
      events: [],
      skipped: [{ index: 0, reason: `"${type.slice(0, 100)}": system.* types are reserved` }],
    };
  }
  const header = req.headers[TIMESTAMP_HEADER];
  const event = readCanonicalEvent(body, {
    providerEventId: id,
    ...(header && /^\d+$/.test(header) && { fallbackTimestamp: new Date(Number(header) * 1000) }),
  });
  return { events: [{ ...event, dedupKey: id }], skipped: [] };
}

function setup(_source: Source, ingestUrl: string): string {
  return [
    'Any sender that signs with Standard Webhooks (https://www.standardwebhooks.com):',
    `1. Webhook URL: ${ingestUrl}`,
    "2. Signing secret: the whsec_… value given as this source's config.secret.",
    '3. Each POST carries webhook-id, webhook-timestamp and webhook-signature headers and one event',
    '   {"type": "email.delivered", "timestamp": "<ISO 8601>", "data": {"recipient": …, "message_id": …}}.',
    '   Another type (invoice.paid) is stored and delivered with its data exactly as posted.',
    'The webhook-id is the dedup key: a resend with the same id is stored once.',
  ].join('\n');
}

export const standard = {
  id: 'standard',
  displayName: 'Standard Webhooks',
  validateConfig,
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
