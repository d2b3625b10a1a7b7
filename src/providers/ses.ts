import { MailhookError, MalformedPayloadError } from '../errors.js';
import { asConfigObject } from './crypto.js';
import { parseJsonLossless } from './json.js';
import { sesEvents } from './ses-events.js';
import { checkSnsFreshness, readEnvelope, type SnsEnvelope, snsUrl, verifySnsSignature } from './ses-sns.js';
import {
  acceptedTopic,
  claimTopic,
  configuredTopic,
  pinPatch,
  storedPin,
  TOPIC_STATE_KEY,
  type TopicPin,
} from './ses-topic.js';
import {
  type HandshakeResult,
  type ParseResult,
  type ProviderAdapter,
  type RawRequest,
  rejected,
  type Source,
  type Verification,
  type VerifyContext,
} from './types.js';

/**
 * Amazon SES events delivered by an Amazon SNS HTTP(S) subscription. SNS signs each message with
 * RSA (SignatureVersion 1: SHA1, 2: SHA256) and a certificate it hosts; there is no shared secret.
 * Any AWS account can point a topic at a URL, so a source accepts one topic: `config.topic_arn`, or
 * else the first one that sent it a verified message (trust on first use, see ses-topic.ts).
 */

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

function validateConfig(config: unknown): Record<string, unknown> {
  const object = asConfigObject(config, 'ses');
  const topicArn = object.topic_arn;
  if (topicArn === undefined || topicArn === null) return {};
  if (typeof topicArn !== 'string' || !TOPIC_ARN.test(topicArn.trim())) {
    throw new MailhookError(
      'MH_ERR_INVALID_SOURCE_CONFIG',
      'ses config.topic_arn must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:ses-events',
    );
  }
  return { topic_arn: topicArn.trim() };
}

/** SNS repeats the type, message id and topic in headers; they are unsigned, so they must agree. */
const HEADER_FIELDS = [
  ['x-amz-sns-message-type', 'Type'],
  ['x-amz-sns-message-id', 'MessageId'],
  ['x-amz-sns-topic-arn', 'TopicArn'],
] as const;

async function verify(req: RawRequest, source: Source, ctx: VerifyContext): Promise<Verification> {
  try {
    const read = readEnvelope(req.body);
    if (!read.ok) return rejected(read.reason);
    const envelope = read.envelope;
    for (const [header, field] of HEADER_FIELDS) {
      const value = req.headers[header];
      if (value !== undefined && value !== envelope[field])
        return rejected(`${header} does not match the body`);
    }
    const nowMs = ctx.now.getTime();
    // Checked before the signature too, so a foreign topic costs no certificate lookup.
    const topic = acceptedTopic(source, nowMs);
    if (topic !== null && envelope.TopicArn !== topic) return foreignTopic(source);
    const fresh = checkSnsFreshness(envelope.Timestamp, ctx);
    if (!fresh.ok) return fresh;
    const signature = await verifySnsSignature(envelope, ctx);
    if (!signature.ok) return signature;
    // Decided after the last await: of two topics verified at once, the second is refused here.
    const claimed =
      envelope.Type === 'UnsubscribeConfirmation' || claimTopic(source, envelope.TopicArn, nowMs);
    return claimed ? signature : foreignTopic(source);
  } catch {
    return rejected('SNS message could not be verified');
  }
}

function foreignTopic(source: Source): Verification {
  return rejected(
    configuredTopic(source) !== null
      ? "TopicArn is not this source's topic_arn"
      : 'TopicArn is not the topic pinned on this source',
  );
}

/** What ConfirmSubscription answers: XML with the new subscription's ARN. */
function subscriptionArnOf(xml: string): string | null {
  return /<SubscriptionArn>([^<]{1,512})<\/SubscriptionArn>/.exec(xml)?.[1] ?? null;
}

/**
 * Confirms by GETting `SubscribeURL` (the SNS-documented way). The URL is signed by SNS, and still
 * checked to be an https SNS `ConfirmSubscription` call so the fetcher never goes anywhere else.
 * A failure answers 503: SNS retries 5xx answers, while a 4xx would end the attempt for good.
 */
async function confirm(envelope: SnsEnvelope, ctx: VerifyContext): Promise<HandshakeResult> {
  const topic_arn = envelope.TopicArn;
  const failed = (error: string): HandshakeResult => ({
    status: 503,
    body: { status: 'confirmation_failed', topic_arn, error },
    state: {
      sns: { subscription: 'confirmation_failed', topic_arn, error, failed_at: ctx.now.toISOString() },
    },
    store: false,
  });
  const url = snsUrl(envelope.SubscribeURL ?? '');
  if (url?.searchParams.get('Action') !== 'ConfirmSubscription') {
    return failed('SubscribeURL is not an https Amazon SNS ConfirmSubscription URL');
  }
  let response: { status: number; text: string };
  try {
    response = await ctx.fetch(url.href, { method: 'GET', timeoutMs: 8000 });
  } catch (err) {
    const detail = err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
    return failed(`ConfirmSubscription request failed: ${detail}`);
  }
  if (response.status < 200 || response.status > 299) {
    return failed(`ConfirmSubscription answered HTTP ${response.status}`);
  }
  const confirmed_at = ctx.now.toISOString();
  const subscription_arn = subscriptionArnOf(response.text);
  // `error: null` clears an earlier failure (the state is merged as a JSON merge patch).
  const sns = { subscription: 'confirmed', topic_arn, subscription_arn, confirmed_at, error: null };
  return { status: 200, body: { status: 'confirmed', topic_arn }, state: { sns }, store: false };
}

/**
 * Runs after verify, so the message is authentic and from this source's topic (or the first topic to
 * reach it, which is pinned now). Confirmations are answered here and never stored; notifications go
 * on to the inbox, the first one with the pin.
 */
async function handshake(
  req: RawRequest,
  source: Source,
  ctx: VerifyContext,
): Promise<HandshakeResult | null> {
  const read = readEnvelope(req.body);
  if (!read.ok) return null;
  const envelope = read.envelope;
  const pin = pinPatch(source, envelope.TopicArn, envelope.Type, ctx.now);
  if (envelope.Type === 'Notification') return pin ? { status: 200, state: pin, store: true } : null;
  if (envelope.Type === 'SubscriptionConfirmation') {
    // Pinned whether or not the confirmation succeeds: the signed message proves the topic subscribed.
    const result = await confirm(envelope, ctx);
    return pin ? { ...result, state: { ...result.state, ...pin } } : result;
  }
  // An UnsubscribeConfirmation. Following its SubscribeURL would subscribe again: record the fact only.
  const topic_arn = envelope.TopicArn;
  const sns = { subscription: 'unsubscribed', topic_arn, unsubscribed_at: ctx.now.toISOString() };
  return { status: 200, body: { status: 'unsubscribed', topic_arn }, state: { sns }, store: false };
}

function parse(req: RawRequest): ParseResult {
  const read = readEnvelope(req.body);
  if (!read.ok) throw new MalformedPayloadError(read.reason);
  const envelope = read.envelope;
  if (envelope.Type !== 'Notification') {
    return { events: [], skipped: [{ index: 0, reason: `SNS ${envelope.Type} is handled at ingest` }] };
  }
  let record: unknown;
  try {
    record = parseJsonLossless(envelope.Message);
  } catch {
    // e.g. "Successfully validated SNS topic for Amazon SES event publishing." when a destination is added.
    return {
      events: [],
      skipped: [{ index: 0, reason: 'SNS message is plain text, not an Amazon SES event' }],
    };
  }
  const outcome = sesEvents(record, { messageId: envelope.MessageId, timestamp: envelope.Timestamp });
  if ('skipped' in outcome) return { events: [], skipped: [{ index: 0, reason: outcome.skipped }] };
  return { events: outcome.events, skipped: [] };
}

/** Which topic the source accepts, and how to change it. */
function topicLines(source: Source): string[] {
  const configured = configuredTopic(source);
  if (configured !== null) return [`Only messages from ${configured} (config.topic_arn) are accepted.`];
  const pinned = storedPin(source);
  if (pinned !== null) {
    const pin = source.state?.[TOPIC_STATE_KEY] as Partial<TopicPin>;
    return [
      `Only messages from ${pinned} are accepted: the first topic that sent a verified message here` +
        ` (${pin.pinned_by ?? 'message'}, ${pin.pinned_at ?? 'time unknown'}), shown as state.${TOPIC_STATE_KEY}.`,
      'If that is not your topic, set yours: PATCH /v1/sources/<id> {"config": {"topic_arn": "arn:aws:sns:…"}}' +
        ' (it takes precedence over the pinned topic and replaces it with its first message).',
    ];
  }
  return [
    `4. The first topic that sends a verified message here is pinned (state.${TOPIC_STATE_KEY} on the source)` +
      ' and every other topic is refused from then on. Subscribe your topic before anyone else learns' +
      ' this URL and check the pinned ARN, or set it now:' +
      ' PATCH /v1/sources/<id> {"config": {"topic_arn": "arn:aws:sns:…"}}.',
  ];
}

function setup(source: Source, ingestUrl: string): string {
  return [
    'In Amazon SNS (same region as SES): create a Standard topic, then Create subscription:',
    `1. Protocol HTTPS, endpoint ${ingestUrl}`,
    '   Leave "Enable raw message delivery" OFF: raw delivery drops the signed envelope.',
    '2. mailhook confirms the subscription itself; GET /v1/sources/<id> shows state.sns.subscription.',
    'In Amazon SES, send events to that topic, either:',
    '3a. Configuration sets → <set> → Event destinations → Add: Amazon SNS, all event types you want',
    '    (send with that configuration set), or',
    '3b. Verified identities → <identity> → Notifications: Bounce, Complaint and Delivery feedback.',
    ...topicLines(source),
  ].join('\n');
}

export const ses = {
  id: 'ses',
  displayName: 'Amazon SES (via SNS)',
  validateConfig,
  verify,
  handshake,
  parse,
  setup,
} satisfies ProviderAdapter;
