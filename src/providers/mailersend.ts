import { createHmac } from 'node:crypto';
import { MalformedPayloadError } from '../errors.js';
import { asConfigObject, requireString, safeEqual } from './crypto.js';
import { parseBodyJson } from './json.js';
import { EVENT_TYPES, isObject, parseActivity } from './mailersend-payload.js';
import { credentialStep, hasCredential, nextStep } from './setup-credential.js';
import {
  type HandshakeResult,
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
 * MailerSend webhooks: one JSON event per POST, header `Signature` = lowercase hex HMAC-SHA256 of the
 * raw body keyed with the webhook's signing secret. No timestamp is signed, so there is no freshness
 * window; retries are recognised by `data.id`.
 *
 * When a webhook is saved, MailerSend validates the URL with a `webhook.test` ping signed with a fixed
 * secret it publishes, and refuses to save the webhook unless the ping gets a 2xx. Anyone can sign
 * with that secret, so it is accepted for the ping alone, which is answered and never stored.
 */
const SIGNATURE_HEADER = 'signature';
export const MAILERSEND_TEST_SECRET = 'test_Am3L1GuOIc4blLUuHqAPxxwkZaJyEk8G';
const PING_TYPE = 'webhook.test';

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'mailersend');
  // The signing secret exists only once the webhook (pointing at this source's URL) is saved, so a
  // source may be created without one; until it is set every event is refused.
  if (object.signing_secret === undefined || object.signing_secret === null) return {};
  return { signing_secret: requireString(object, 'signing_secret', 'mailersend') };
}

export function mailerSendSignature(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** True for the URL-validation ping `{"type": "webhook.test", "message": …}`. */
function isPing(body: Buffer): boolean {
  if (!body.includes(PING_TYPE)) return false;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return isObject(parsed) && parsed.type === PING_TYPE;
  } catch {
    return false;
  }
}

function verify(req: RawRequest, source: Source, _ctx: VerifyContext): Verification {
  const header = req.headers[SIGNATURE_HEADER];
  if (!header) return rejected('missing Signature header');
  const signature = header.trim().toLowerCase();
  const secret = source.config.signing_secret;
  const configured = typeof secret === 'string' && secret !== '';
  if (configured && safeEqual(signature, mailerSendSignature(secret, req.body))) return verified;
  if (safeEqual(signature, mailerSendSignature(MAILERSEND_TEST_SECRET, req.body)) && isPing(req.body)) {
    return verified;
  }
  return rejected(
    configured ? 'signature does not match' : 'source has no signing_secret yet (the webhook signing secret)',
  );
}

/** Answers the ping without storing it: it carries no event, and its signature proves nothing. */
async function handshake(req: RawRequest): Promise<HandshakeResult | null> {
  return isPing(req.body) ? { status: 200, body: { status: 'ok' }, store: false } : null;
}

function parse(req: RawRequest): ParseResult {
  const body = parseBodyJson(req.body);
  if (!isObject(body)) throw new MalformedPayloadError('body is not a JSON object');
  const name = body.type;
  if (typeof name !== 'string' || name === '') throw new MalformedPayloadError('"type" is missing');
  const type = EVENT_TYPES[name];
  if (!type) {
    // Surveys, sender identities, maintenance windows, inbound, verification and on-hold events.
    return {
      events: [],
      skipped: [{ index: 0, reason: `MailerSend event "${name}" is not an email event mailhook maps` }],
    };
  }
  return { events: [parseActivity(body, name, type)], skipped: [] };
}

function setup(source: Source, ingestUrl: string): string {
  const secretSet = hasCredential(source, 'signing_secret');
  return [
    'In MailerSend: Domains → Manage (the sending domain) → Webhooks → Add webhook.',
    `1. Endpoint URL: ${ingestUrl}`,
    '2. Select the events (sent, delivered, soft/hard bounced, deferred, opened, clicked, unsubscribed,',
    '   spam complaint, suppressed). Webhook version 2.0 (the default) and 1.0 (legacy) are both understood.',
    '3. Save. MailerSend checks the URL with a "webhook.test" ping; mailhook answers 200 and stores nothing.',
    ...credentialStep(source, {
      provider: 'MailerSend',
      step: 4,
      key: 'signing_secret',
      copy: "the webhook's Signing secret",
      example: '…',
    }),
    ...(secretSet ? [] : ['MailerSend gives up on most 4xx answers: set the secret before sending mail.']),
    'MailerSend waits 3 seconds for an answer; mailhook answers at once.',
    ...nextStep(source, 'signing_secret', 'send mail from the domain'),
  ].join('\n');
}

export const mailersend = {
  id: 'mailersend',
  displayName: 'MailerSend',
  validateConfig,
  verify,
  handshake,
  parse,
  setup,
} satisfies ProviderAdapter;
