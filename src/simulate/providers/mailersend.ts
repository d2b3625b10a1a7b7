import { createHmac } from 'node:crypto';
import { isoWithFraction, json } from '../format.js';
import { oneKey } from '../keys.js';
import type { SimEvent } from '../plan.js';
import { LOWER_ALNUM, stableId } from '../rng.js';
import { simulator } from '../types.js';

/**
 * MailerSend webhooks, payload version 2.0 (the default): one event per POST, header `Signature` =
 * hex HMAC-SHA256 of the raw body with the webhook's signing secret. Shapes follow
 * test/fixtures/mailersend/v2/.
 */
const TYPE = {
  delivered: 'delivered',
  opened: 'opened',
  clicked: 'clicked',
  bounced: 'hard_bounced',
  complained: 'spam_complaint',
} as const;

function metaOf(event: SimEvent): Record<string, unknown> | [] {
  switch (event.kind) {
    case 'opened':
    case 'clicked':
      return {
        ip: event.ip,
        country: 'US',
        user_agent: event.userAgent,
        device_type: 'desktop',
        ...(event.kind === 'clicked' && { url: event.url }),
      };
    case 'bounced':
      return { bounce_reason: 'Host or domain name not found', bounce_code: 550, bounce_type: 'hard' };
    default:
      // MailerSend serialises an empty meta as a JSON array.
      return [];
  }
}

function bodyOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  return {
    type: `activity.${TYPE[event.kind]}`,
    created_at: isoWithFraction(event.at, 6),
    data: {
      id: stableId(`mailersend:${event.key}`, 24),
      domain_id: stableId('mailersend:domain', 16, LOWER_ALNUM),
      message_id: stableId(`mailersend:${msg.key}`, 24),
      email_id: stableId(`mailersend:email:${msg.key}`, 24),
      type: event.kind === 'complained' ? 'spam_complaints' : TYPE[event.kind],
      subject: msg.subject,
      recipient: msg.recipient,
      tags: [msg.tag],
      meta: metaOf(event),
    },
    webhook_id: stableId('mailersend:webhook', 16, LOWER_ALNUM),
  };
}

export const mailersendSimulator = simulator<string>({
  id: 'mailersend',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: "the webhook's signing secret (config.signing_secret)",
  credential: (keys) => oneKey(keys, 'mailersend', '<signing secret>'),
  forge: (_secret, rng) => rng.chars(32, LOWER_ALNUM),
  sourceConfig: (secret) => ({ signing_secret: secret }),
  request(events, secret, _ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('mailersend posts one event per request');
    const body = json(bodyOf(event));
    const signature = createHmac('sha256', secret).update(body).digest('hex');
    return {
      method: 'POST',
      query: '',
      headers: { 'content-type': 'application/json', signature, 'user-agent': 'MailerSend-Webhooks' },
      body,
    };
  },
});
