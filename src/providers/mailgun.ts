import { createHmac } from 'node:crypto';
import { MailhookError, MalformedPayloadError } from '../errors.js';
import { asConfigObject, checkFreshness, requireString, safeEqual } from './crypto.js';
import { parseBodyJson } from './json.js';
import { isObject, parseCurrent } from './mailgun-events.js';
import { bodyFormatOf, formFieldsOf } from './mailgun-form.js';
import { lastValue, parseLegacy } from './mailgun-legacy.js';
import {
  type ParseResult,
  type ProviderAdapter,
  type RawRequest,
  rejected,
  type Source,
  type Verification,
  type VerifyContext,
  verifiedWithToken,
} from './types.js';

/**
 * Mailgun webhooks. Each request is signed with hex(HMAC-SHA256(key = the HTTP webhook signing key,
 * msg = timestamp + token)). The signature covers only those two values, not the event: a captured
 * signature block could be pasted onto any event-data. That is why a token is bound, in the store, to
 * the first body it verified with, and refused with any other body for as long as its timestamp stays
 * fresh; the same body again is Mailgun redelivering, stored once by the event dedup key.
 *
 * Two formats reach the same URL: current webhooks post JSON with a `signature` block and one
 * `event-data`; legacy webhooks post forms with top-level `timestamp`, `token`, `signature`.
 */

/** How long a token stays bound when the freshness check is off (MAILHOOK_SIGNATURE_TOLERANCE=0). */
const TOKEN_TTL_WITHOUT_FRESHNESS_MS = 24 * 60 * 60 * 1000;

interface SignatureBlock {
  timestamp: string;
  token: string;
  signature: string;
  /** Subaccount events are also signed with the primary account's key. */
  parentSignature: string | null;
}

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'mailgun');
  const signingKey = requireString(object, 'signing_key', 'mailgun');
  if (/\s/.test(signingKey)) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      'mailgun config.signing_key must be the "HTTP webhook signing key" from the Mailgun dashboard (no spaces)',
    );
  }
  return { signing_key: signingKey };
}

/** Only strings are taken; a timestamp posted as a JSON integer is read as its decimal text. */
function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

function signatureBlockOf(req: RawRequest): SignatureBlock | null {
  const format = bodyFormatOf(req.headers, req.body);
  if (format === 'json') {
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      return null;
    }
    const block = isObject(body) && isObject(body.signature) ? body.signature : null;
    if (!block) return null;
    const [timestamp, token, signature] = [text(block.timestamp), text(block.token), text(block.signature)];
    if (timestamp === null || token === null || signature === null) return null;
    return { timestamp, token, signature, parentSignature: text(block['parent-signature']) };
  }
  const form = formFieldsOf(req.headers, req.body, format);
  if (!form) return null;
  const timestamp = lastValue(form.fields, 'timestamp');
  const token = lastValue(form.fields, 'token');
  const signature = lastValue(form.fields, 'signature');
  if (timestamp === null || token === null || signature === null) return null;
  return { timestamp, token, signature, parentSignature: null };
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The token stays bound until its timestamp leaves the freshness window (plus a second of slack). */
function tokenExpiry(timestamp: string, ctx: VerifyContext): Date {
  if (ctx.toleranceSec === 0) return new Date(ctx.now.getTime() + TOKEN_TTL_WITHOUT_FRESHNESS_MS);
  const expiresMs = (Number(timestamp) + ctx.toleranceSec) * 1000 + 1000;
  return new Date(Math.max(ctx.now.getTime() + 1000, expiresMs));
}

function verify(req: RawRequest, source: Source, ctx: VerifyContext): Verification {
  const block = signatureBlockOf(req);
  if (!block) return rejected('missing Mailgun signature (timestamp, token, signature)');
  if (block.token === '' || block.token.length > 256) return rejected('token is malformed');
  if (!HEX_SHA256.test(block.signature)) return rejected('signature is malformed');
  const fresh = checkFreshness(block.timestamp, ctx);
  if (!fresh.ok) return fresh;
  const signingKey = source.config.signing_key;
  if (typeof signingKey !== 'string' || signingKey === '') return rejected('source has no signing_key');
  const expected = createHmac('sha256', signingKey)
    .update(block.timestamp + block.token)
    .digest('hex');
  // Both compared, so timing does not tell which one matched.
  const own = safeEqual(expected, block.signature.toLowerCase());
  const parent = block.parentSignature !== null && safeEqual(expected, block.parentSignature.toLowerCase());
  if (!own && !parent) return rejected('signature does not match');
  // The signature does not cover the body: the token is bound to this body when the request is
  // stored, so a captured signature block is refused with any other event-data (ingest/route.ts).
  return verifiedWithToken({ token: block.token, expiresAt: tokenExpiry(block.timestamp, ctx) });
}

function parse(req: RawRequest): ParseResult {
  const format = bodyFormatOf(req.headers, req.body);
  if (format === 'json') return parseCurrent(parseBodyJson(req.body));
  const form = formFieldsOf(req.headers, req.body, format);
  if (!form) throw new MalformedPayloadError('multipart/form-data body could not be read');
  return parseLegacy(form.fields);
}

function setup(_source: Source, ingestUrl: string): string {
  return [
    'In Mailgun (Send → Sending → Webhooks; pick the domain, or use account-level webhooks):',
    `1. Add a webhook for each event type to receive, all with the URL ${ingestUrl}`,
    '   (accepted, delivered, permanent_fail, temporary_fail, opened, clicked, unsubscribed, complained).',
    '2. Copy the "HTTP webhook signing key" (shown on the Webhooks page, or under API Security) into',
    "   this source's config.signing_key. Subaccount events also verify with the primary account's key.",
    '3. Use "Test webhook" to check: mailhook answers 200 when the signature verifies, 401 otherwise.',
    'Mailgun retries for 8 hours when it gets no 200, possibly with the original signature: mailhook',
    'accepts Mailgun timestamps up to 9 hours old (or MAILHOOK_SIGNATURE_TOLERANCE if larger); a reused',
    'token with a different body is still refused.',
  ].join('\n');
}

export const mailgun = {
  id: 'mailgun',
  displayName: 'Mailgun',
  // Mailgun retries for 8 hours and may keep the original signature on retries.
  minToleranceSec: 9 * 3600,
  validateConfig,
  verify,
  parse,
  setup,
} satisfies ProviderAdapter;
