import { isoWithFraction, json } from '../format.js';
import {
  CREDENTIALS_HELP,
  type Credentials,
  credentialHeaders,
  credentialsConfig,
  forgeCredentials,
  parseCredentials,
} from '../keys.js';
import type { SimEvent } from '../plan.js';
import { ALNUM, stableId } from '../rng.js';
import { simulator } from '../types.js';

/**
 * SMTP2GO webhooks with output type JSON: one event per POST. Nothing is signed: the source checks
 * basic auth and/or a header. Shapes follow test/fixtures/smtp2go/.
 */
const EVENT_NAME = {
  delivered: 'delivered',
  opened: 'open',
  clicked: 'click',
  bounced: 'bounce',
  complained: 'spam',
} as const;

function eventOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const emailId = `${stableId(`smtp2go:${msg.key}`, 6, ALNUM)}-${stableId(`smtp2go:b:${msg.key}`, 10, ALNUM)}-${stableId(`smtp2go:c:${msg.key}`, 4, ALNUM)}`;
  const [, domain] = msg.recipient.split('@');
  const base: Record<string, unknown> = {
    auth: 'api-597435AE4E55',
    email_id: emailId,
    from: msg.from,
    from_address: msg.from,
    from_name: 'Example',
    'message-id': `<E${emailId}@message-id.smtpcorp.com>`,
    sender: msg.from,
    sendtime: isoWithFraction(msg.sentAt, 6, '+00:00'),
    subject: msg.subject,
    event: EVENT_NAME[event.kind],
    id: stableId(`smtp2go:${event.key}`, 32),
    rcpt: msg.recipient,
    time: isoWithFraction(event.at, 0),
  };
  const reader = {
    'user-agent': event.userAgent,
    client: 'Chrome 124.0',
    'client-device': 'Desktop',
    'client-os': 'Windows 10',
    'geoip-country': 'US',
    srchost: event.ip,
  };
  switch (event.kind) {
    case 'delivered':
      return {
        ...base,
        host: `mx.${domain} [203.0.113.25]`,
        context: 'Unavailable',
        message: '250 2.0.0 Ok: queued',
      };
    case 'opened':
      return { ...base, ...reader, 'read-secs': '15' };
    case 'clicked':
      return { ...base, url: event.url, ...reader };
    case 'bounced':
      return {
        ...base,
        bounce: 'hard',
        host: `mx.${domain} [203.0.113.25]`,
        context: `RCPT TO:<${msg.recipient}>`,
        message: `550 5.1.1 <${msg.recipient}>: Recipient address rejected: User unknown in virtual mailbox table`,
      };
    case 'complained':
      return { ...base, context: 'feedback', message: '' };
  }
}

export const smtp2goSimulator = simulator<Credentials>({
  id: 'smtp2go',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: CREDENTIALS_HELP,
  credential: (keys) => parseCredentials(keys, 'smtp2go'),
  forge: (credentials, rng) => forgeCredentials(credentials, rng.hex(6)),
  sourceConfig: credentialsConfig,
  request(events, credentials, _ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('smtp2go posts one event per request');
    return {
      method: 'POST',
      query: '',
      headers: { 'content-type': 'application/json', ...credentialHeaders(credentials) },
      body: json(eventOf(event)),
    };
  },
});
