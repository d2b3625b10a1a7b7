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
import { stableNumber, stableUuid } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Postmark outbound webhooks: one JSON record per POST, `RecordType` saying what it is. Postmark
 * signs nothing: the source checks basic auth and/or a custom header. Shapes follow
 * test/fixtures/postmark/.
 */
function recordOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const common = {
    MessageStream: 'outbound',
    MessageID: stableUuid(`postmark:${msg.key}`),
    Tag: msg.tag,
    Metadata: { user_id: stableNumber(`user:${msg.recipient}`, 6) },
  };
  const reader = {
    Client: { Name: 'Chrome 124.0', Company: 'Google', Family: 'Chrome' },
    OS: { Name: 'OS X 10.15 Catalina', Company: 'Apple Computer, Inc.', Family: 'OS X 10' },
    Platform: 'Desktop',
    UserAgent: event.userAgent,
    Geo: { CountryISOCode: 'US', Country: 'United States', City: 'San Francisco', IP: event.ip },
  };
  // Postmark writes 7 fractional digits.
  const at = isoWithFraction(event.at, 7);
  switch (event.kind) {
    case 'delivered':
      return {
        RecordType: 'Delivery',
        ServerID: 23,
        ...common,
        Recipient: msg.recipient,
        DeliveredAt: at,
        Details: `smtp;250 2.0.0 OK`,
      };
    case 'opened':
      return {
        RecordType: 'Open',
        ...common,
        FirstOpen: true,
        ...reader,
        ReceivedAt: at,
        Recipient: msg.recipient,
      };
    case 'clicked':
      return {
        RecordType: 'Click',
        ...common,
        ClickLocation: 'HTML',
        ...reader,
        OriginalLink: event.url,
        ReceivedAt: at,
        Recipient: msg.recipient,
      };
    case 'bounced':
    case 'complained': {
      const bounce = event.kind === 'bounced';
      return {
        RecordType: bounce ? 'Bounce' : 'SpamComplaint',
        ...common,
        // A 64-bit id in Postmark; kept below 2^53 so every JSON reader gets it exactly.
        ID: Number(stableNumber(`postmark:${event.key}`, 15)),
        Type: bounce ? 'HardBounce' : 'SpamComplaint',
        TypeCode: bounce ? 1 : 512,
        Name: bounce ? 'Hard bounce' : 'Spam complaint',
        ServerID: 23,
        Description: bounce
          ? 'The server was unable to deliver your message (ex: unknown user, mailbox not found).'
          : 'The subscriber explicitly marked this message as spam.',
        Details: bounce ? 'smtp;550 5.1.1 The email account that you tried to reach does not exist.' : '',
        Email: msg.recipient,
        From: msg.from,
        BouncedAt: at,
        DumpAvailable: true,
        Inactive: true,
        CanActivate: bounce,
        Subject: msg.subject,
      };
    }
  }
}

export const postmarkSimulator = simulator<Credentials>({
  id: 'postmark',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: CREDENTIALS_HELP,
  credential: (keys) => parseCredentials(keys, 'postmark'),
  forge: (credentials, rng) => forgeCredentials(credentials, rng.hex(6)),
  sourceConfig: credentialsConfig,
  request(events, credentials, _ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('postmark posts one record per request');
    return {
      method: 'POST',
      query: '',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Postmark',
        ...credentialHeaders(credentials),
      },
      body: json(recordOf(event)),
    };
  },
});
