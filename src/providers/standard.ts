import { MailhookError, MalformedPayloadError } from '../errors.js';
import { type BounceInfo, isEmailEventType, type ParsedEvent } from '../events.js';
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

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(data: Record<string, unknown>, key: string): string | null {
  const value = data[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new MalformedPayloadError(`data.${key} must be a string or null`);
  return value;
}

const BOUNCE_TYPES = new Set(['hard', 'soft', 'undetermined']);

function bounceOf(data: Record<string, unknown>): BounceInfo {
  const bounce = isObject(data.bounce) ? data.bounce : {};
  const type = bounce.type ?? 'undetermined';
  if (typeof type !== 'string' || !BOUNCE_TYPES.has(type)) {
    throw new MalformedPayloadError('data.bounce.type must be hard, soft or undetermined');
  }
  return {
    type: type as BounceInfo['type'],
    code: optionalString(bounce, 'code'),
    reason: optionalString(bounce, 'reason'),
  };
}

function timestampOf(body: Record<string, unknown>, header: string | undefined): Date {
  if (body.timestamp !== undefined) {
    const date = typeof body.timestamp === 'string' ? new Date(body.timestamp) : null;
    if (!date || Number.isNaN(date.getTime())) {
      throw new MalformedPayloadError('timestamp must be an ISO 8601 date-time');
    }
    return date;
  }
  if (header && /^\d+$/.test(header)) return new Date(Number(header) * 1000);
  throw new MalformedPayloadError('timestamp is missing');
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
  if (!isObject(body)) throw new MalformedPayloadError('body must be a JSON object');
  const type = body.type;
  if (typeof type !== 'string' || type === '' || type.length > 100) {
    throw new MalformedPayloadError('type must be a non-empty string of at most 100 characters');
  }
  if (type.startsWith('email.') && !isEmailEventType(type)) {
    throw new MalformedPayloadError(`"${type}" is not a canonical email event type`);
  }
  const data = body.data === undefined ? {} : body.data;
  if (!isObject(data)) throw new MalformedPayloadError('data must be an object');

  const tags = data.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
    throw new MalformedPayloadError('data.tags must be an array of strings');
  }
  const metadata = data.metadata ?? {};
  if (!isObject(metadata)) throw new MalformedPayloadError('data.metadata must be an object');
  const recipient = optionalString(data, 'recipient');

  const event: ParsedEvent = {
    type,
    timestamp: timestampOf(body, req.headers[TIMESTAMP_HEADER]),
    dedupKey: id,
    data: {
      provider_event_id: optionalString(data, 'provider_event_id') ?? id,
      message_id: optionalString(data, 'message_id'),
      recipient: recipient === null ? null : recipient.trim().toLowerCase(),
      user_agent: optionalString(data, 'user_agent'),
      ip: optionalString(data, 'ip'),
      tags: tags as string[],
      metadata,
      raw: body,
    },
  };
  if (type === 'email.bounced' || type === 'email.dropped') event.data.bounce = bounceOf(data);
  if (type === 'email.clicked') {
    event.data.click = { url: isObject(data.click) ? optionalString(data.click, 'url') : null };
  }
  if (type === 'email.opened') {
    event.data.open = { machine: isObject(data.open) && data.open.machine === true };
  }
  if (type === 'email.unsubscribed' || type === 'email.resubscribed') {
    event.data.unsubscribe = {
      group: isObject(data.unsubscribe) ? optionalString(data.unsubscribe, 'group') : null,
    };
  }
  return { events: [event], skipped: [] };
}

function setup(_source: Source, ingestUrl: string): string {
  return [
    'Any sender that signs with Standard Webhooks (https://www.standardwebhooks.com):',
    `1. Webhook URL: ${ingestUrl}`,
    "2. Signing secret: the whsec_… value given as this source's config.secret.",
    '3. Each POST carries webhook-id, webhook-timestamp and webhook-signature headers and one event',
    '   {"type": "email.delivered", "timestamp": "<ISO 8601>", "data": {"recipient": …, "message_id": …}}.',
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
