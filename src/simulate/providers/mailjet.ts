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
import { stableNumber, stableUuid } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Mailjet event API: one JSON event per POST, or a JSON array when the webhook is "grouped". Nothing
 * is signed: the source checks basic auth (Mailjet supports credentials in the URL) and/or a header.
 * `MessageID` is a 64-bit integer beyond 2^53, written as a bare JSON number the way Mailjet does.
 * Shapes follow test/fixtures/mailjet/.
 */
const EVENT_NAME = {
  delivered: 'sent',
  opened: 'open',
  clicked: 'click',
  bounced: 'bounce',
  complained: 'spam',
} as const;

function eventOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const messageId = `1${stableNumber(`mailjet:${msg.key}`, 16)}`;
  const base: Record<string, unknown> = {
    event: EVENT_NAME[event.kind],
    time: unixSeconds(event.at),
    // Replaced by the bare number after serialisation (see bigIntegers).
    MessageID: `#int:${messageId}`,
    Message_GUID: stableUuid(`mailjet:${msg.key}`),
    email: msg.recipient,
    mj_campaign_id: 7257,
    mj_contact_id: Number(stableNumber(`mailjet:contact:${msg.recipient}`, 9)),
    customcampaign: msg.tag,
    CustomID: msg.tag,
    Payload: '',
  };
  switch (event.kind) {
    case 'delivered':
      return {
        ...base,
        mj_message_id: messageId,
        smtp_reply: 'sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)',
      };
    case 'opened':
      return { ...base, ip: event.ip, geo: 'US', agent: event.userAgent };
    case 'clicked':
      return { ...base, url: event.url, ip: event.ip, geo: 'US', agent: event.userAgent };
    case 'bounced':
      return {
        ...base,
        blocked: false,
        hard_bounce: true,
        error_related_to: 'recipient',
        error: 'user unknown',
        comment: `host mx.${msg.recipient.split('@')[1]} said: 550 5.1.1 The email account that you tried to reach does not exist`,
      };
    case 'complained':
      return { ...base, source: 'JMRPP' };
  }
}

/** `"#int:123…"` → `123…`: integers JSON.stringify cannot write exactly. */
function bigIntegers(text: string): string {
  return text.replace(/"#int:(\d+)"/g, '$1');
}

export const mailjetSimulator = simulator<Credentials>({
  id: 'mailjet',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 100,
  keyHelp: CREDENTIALS_HELP,
  credential: (keys) => parseCredentials(keys, 'mailjet'),
  forge: (credentials, rng) => forgeCredentials(credentials, rng.hex(6)),
  sourceConfig: credentialsConfig,
  request(events, credentials, _ctx) {
    const [first] = events;
    const payload = events.length === 1 && first ? eventOf(first) : events.map(eventOf);
    return {
      method: 'POST',
      query: '',
      headers: { 'content-type': 'application/json', ...credentialHeaders(credentials) },
      body: bigIntegers(json(payload)),
    };
  },
});
