import { createHmac } from 'node:crypto';
import { unixSeconds } from '../format.js';
import { oneKey } from '../keys.js';
import type { SimEvent } from '../plan.js';
import { ALNUM, LOWER_ALNUM, stableId } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Mandrill (Mailchimp Transactional): a form POST with one field, `mandrill_events` (a JSON array of
 * up to 1000 events, `/` escaped as `\/` the way PHP's json_encode writes it). `X-Mandrill-Signature`
 * is base64 HMAC-SHA1 of the webhook URL exactly as configured followed by each field's name and
 * value. Shapes follow test/fixtures/mandrill/.
 */
const EVENT_NAME = {
  delivered: 'delivered',
  opened: 'open',
  clicked: 'click',
  bounced: 'hard_bounce',
  complained: 'spam',
} as const;

function eventOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const id = stableId(`mandrill:${msg.key}`, 32, LOWER_ALNUM);
  const state = event.kind === 'bounced' ? 'bounced' : event.kind === 'complained' ? 'spam' : 'sent';
  const message: Record<string, unknown> = {
    ts: unixSeconds(msg.sentAt),
    subject: msg.subject,
    email: msg.recipient,
    sender: msg.from,
    tags: [msg.tag],
    opens: [],
    clicks: [],
    state,
    metadata: { user_id: Number(stableId(`user:${msg.recipient}`, 6, '123456789')) },
    _id: id,
    _version: stableId(`mandrill:v:${msg.key}`, 22, ALNUM),
  };
  if (event.kind === 'delivered') {
    message.smtp_events = [
      {
        ts: unixSeconds(event.at),
        type: 'sent',
        diag: '250 2.0.0 OK',
        source_ip: '198.51.100.7',
        destination_ip: '203.0.113.25',
        size: 2048,
      },
    ];
  }
  if (event.kind === 'bounced') {
    message.bounce_description = 'bad_mailbox';
    message.bgtools_code = 10;
    message.diag = 'smtp;550 5.1.1 The email account that you tried to reach does not exist.';
  }
  const out: Record<string, unknown> = { event: EVENT_NAME[event.kind], msg: message, _id: id };
  if (event.kind === 'opened' || event.kind === 'clicked') {
    out.ip = event.ip;
    out.user_agent = event.userAgent;
    out.location = { country_short: 'US', country: 'United States', city: 'Oklahoma City' };
  }
  if (event.kind === 'clicked') out.url = event.url;
  out.ts = unixSeconds(event.at);
  return out;
}

/** What PHP's json_encode writes: like JSON.stringify, with every `/` escaped. */
function phpJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

export function mandrillSign(key: string, url: string, field: string, value: string): string {
  return createHmac('sha1', key)
    .update(url + field + value, 'utf8')
    .digest('base64');
}

export const mandrillSimulator = simulator<string>({
  id: 'mandrill',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1000,
  keyHelp: "the webhook's key (config.webhook_key); --url is signed, so it must be the source's ingest_url",
  credential: (keys) => oneKey(keys, 'mandrill', '<webhook key>'),
  forge: (_key, rng) => rng.chars(22, ALNUM),
  sourceConfig: (key) => ({ webhook_key: key }),
  request(events, key, ctx) {
    const value = phpJson(events.map(eventOf));
    return {
      method: 'POST',
      query: '',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'Mandrill-Webhook/1.0',
        'x-mandrill-signature': mandrillSign(key, ctx.url, 'mandrill_events', value),
      },
      body: new URLSearchParams({ mandrill_events: value }).toString(),
    };
  },
});
