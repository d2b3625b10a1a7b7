import { isoWithFraction, json } from '../format.js';
import type { SimEvent } from '../plan.js';
import { ALNUM, stableId, stableUuid } from '../rng.js';
import { simulator } from '../types.js';
import { forgeWhsec, standardHeaders, whsecKey } from './standard-signing.js';

/**
 * Resend webhooks, delivered by Svix: one event per POST, `{"type", "created_at", "data"}`, signed
 * with Standard Webhooks under `svix-*` headers. One `to` address per email, so every event names
 * its recipient. Shapes follow test/fixtures/resend/.
 */
const TYPE = {
  delivered: 'email.delivered',
  opened: 'email.opened',
  clicked: 'email.clicked',
  bounced: 'email.bounced',
  complained: 'email.complained',
} as const;

function bodyOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const data: Record<string, unknown> = {
    created_at: isoWithFraction(msg.sentAt, 6, '+00:00'),
    email_id: stableUuid(`resend:${msg.key}`),
    from: `Example <${msg.from}>`,
    to: [msg.recipient],
    subject: msg.subject,
    tags: { category: msg.tag },
  };
  if (event.kind === 'clicked') {
    data.click = {
      ipAddress: event.ip,
      link: event.url,
      timestamp: event.at.toISOString(),
      userAgent: event.userAgent,
    };
  }
  if (event.kind === 'bounced') {
    data.bounce = {
      diagnosticCode: ['smtp; 550 5.1.1 The email account that you tried to reach does not exist.'],
      message:
        "The recipient's email provider sent a hard bounce message, but didn't specify the reason for the hard bounce.",
      subType: 'General',
      type: 'Permanent',
    };
  }
  return { type: TYPE[event.kind], created_at: event.at.toISOString(), data };
}

export const resendSimulator = simulator<string>({
  id: 'resend',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: "the webhook's signing secret whsec_… (config.secret)",
  credential: (keys) => whsecKey(keys, 'resend'),
  forge: (_secret, rng) => forgeWhsec(rng),
  sourceConfig: (secret) => ({ secret }),
  request(events, secret, ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('resend posts one event per request');
    const body = json(bodyOf(event));
    const id = `msg_${stableId(`resend:${event.key}`, 27, ALNUM)}`;
    const headers = {
      ...standardHeaders('svix', id, secret, ctx.now, body),
      'user-agent': 'Svix-Webhooks/1.66.0',
    };
    return { method: 'POST', query: '', headers, body };
  },
});
