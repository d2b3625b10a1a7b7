import { json, unixSeconds } from '../format.js';
import {
  CREDENTIALS_HELP,
  type Credentials,
  credentialHeaders,
  credentialsConfig,
  forgeCredentials,
  parseCredentials,
} from '../keys.js';
import type { SimEvent } from '../plan.js';
import { stableId, stableNumber } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Brevo transactional webhooks: one JSON event per POST, or an array with `batched: true`. Nothing
 * is signed: the source checks basic auth and/or a header (Brevo's bearer token arrives as
 * `Authorization: Bearer …`, i.e. `--key "header:authorization:Bearer <token>"`). `date` is Paris
 * wall-clock time, as Brevo writes it. Shapes follow test/fixtures/brevo/.
 */
const EVENT_NAME = {
  delivered: 'delivered',
  opened: 'opened',
  clicked: 'click',
  bounced: 'hard_bounce',
  complained: 'spam',
} as const;

// 'sv-SE' formats as YYYY-MM-DD HH:MM:SS.
const PARIS = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Europe/Paris',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

function eventOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const base: Record<string, unknown> = {
    event: EVENT_NAME[event.kind],
    email: msg.recipient,
    id: 12345,
    date: PARIS.format(event.at),
    ts: unixSeconds(event.at),
    'message-id': `<${stableNumber(`brevo:${msg.key}`, 12)}.${stableNumber(`brevo:b:${msg.key}`, 7)}@smtp-relay.mailin.fr>`,
    ts_event: unixSeconds(event.at),
    subject: msg.subject,
    'X-Mailin-custom': json({ user_id: stableId(`user:${msg.recipient}`, 6, '0123456789') }),
    sending_ip: '185.41.28.109',
    template_id: 22,
    tags: [msg.tag],
    ts_epoch: event.at.getTime(),
  };
  switch (event.kind) {
    case 'opened':
    case 'clicked':
      return {
        ...base,
        user_agent: event.userAgent,
        device_used: 'DESKTOP',
        contact_id: Number(stableNumber(`brevo:contact:${msg.recipient}`, 6)),
        ...(event.kind === 'clicked' && { link: event.url }),
      };
    case 'bounced':
      return {
        ...base,
        reason: ' RecipientError: 550 5.1.1 Requested action not taken: mailbox unavailable.',
      };
    default:
      return base;
  }
}

export const brevoSimulator = simulator<Credentials>({
  id: 'brevo',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 100,
  keyHelp: `${CREDENTIALS_HELP}; a Brevo bearer token is header:authorization:Bearer <token>`,
  credential: (keys) => parseCredentials(keys, 'brevo'),
  forge: (credentials, rng) => forgeCredentials(credentials, rng.hex(6)),
  sourceConfig: credentialsConfig,
  request(events, credentials, _ctx) {
    const [first] = events;
    const payload = events.length === 1 && first ? eventOf(first) : events.map(eventOf);
    return {
      method: 'POST',
      query: '',
      headers: { 'content-type': 'application/json', ...credentialHeaders(credentials) },
      body: json(payload),
    };
  },
});
