import { createHmac } from 'node:crypto';
import { fractionalSeconds, json, unixSeconds } from '../format.js';
import { oneKey } from '../keys.js';
import type { SimEvent } from '../plan.js';
import { BASE64URL, stableId } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Mailgun webhooks (current JSON format): one event per POST,
 * `{"signature": {timestamp, token, signature}, "event-data": {…}}`, signature = hex HMAC-SHA256 of
 * timestamp + token with the HTTP webhook signing key. Shapes follow test/fixtures/mailgun/.
 */
const DOMAIN = 'mg.example.com';

function eventData(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const [, recipientDomain = ''] = msg.recipient.split('@');
  const base: Record<string, unknown> = {
    event: event.kind === 'bounced' ? 'failed' : event.kind,
    id: stableId(`mailgun:${event.key}`, 22, BASE64URL),
    timestamp: fractionalSeconds(event.at),
    'log-level': event.kind === 'bounced' ? 'error' : event.kind === 'complained' ? 'warn' : 'info',
    recipient: msg.recipient,
    'recipient-domain': recipientDomain,
    message: {
      headers: {
        to: msg.recipient,
        'message-id': `${stableId(`mailgun:${msg.key}`, 14, '0123456789')}.${stableId(msg.key, 16)}@${DOMAIN}`,
        from: `Example <${msg.from}>`,
        subject: msg.subject,
      },
      attachments: [],
      size: 2048,
    },
    tags: [msg.tag],
    'user-variables': { user_id: stableId(`user:${msg.recipient}`, 6, '0123456789') },
    campaigns: [],
  };
  const reader = {
    ip: event.ip,
    geolocation: { country: 'US', region: 'CA', city: 'San Francisco' },
    'client-info': {
      'client-type': 'browser',
      'device-type': 'desktop',
      'user-agent': event.userAgent,
      bot: '',
    },
  };
  switch (event.kind) {
    case 'delivered':
      return {
        ...base,
        envelope: {
          'sending-ip': '198.51.100.20',
          sender: msg.from,
          transport: 'smtp',
          targets: msg.recipient,
        },
        'delivery-status': {
          tls: true,
          'mx-host': `mx.${recipientDomain}`,
          'attempt-no': 1,
          code: 250,
          message: 'OK',
        },
      };
    case 'opened':
      return { ...base, ...reader };
    case 'clicked':
      return { ...base, ...reader, url: event.url };
    case 'bounced':
      return {
        ...base,
        severity: 'permanent',
        reason: 'bounce',
        'delivery-status': {
          tls: true,
          'mx-host': `mx.${recipientDomain}`,
          'attempt-no': 1,
          code: 550,
          'enhanced-code': '5.1.1',
          message: '5.1.1 The email account that you tried to reach does not exist.',
        },
      };
    case 'complained':
      return base;
  }
}

export const mailgunSimulator = simulator<string>({
  id: 'mailgun',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: 'the HTTP webhook signing key (config.signing_key)',
  credential: (keys) => oneKey(keys, 'mailgun', '<signing key>'),
  forge: (_key, rng) => `key-${rng.hex(32)}`,
  sourceConfig: (key) => ({ signing_key: key }),
  request(events, key, ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('mailgun posts one event per request');
    const timestamp = String(unixSeconds(ctx.now));
    // 50 random characters, new for every request Mailgun makes.
    const token = ctx.rng.hex(50);
    const signature = createHmac('sha256', key)
      .update(timestamp + token)
      .digest('hex');
    return {
      method: 'POST',
      query: '',
      headers: { 'content-type': 'application/json' },
      body: json({ signature: { timestamp, token, signature }, 'event-data': eventData(event) }),
    };
  },
});
