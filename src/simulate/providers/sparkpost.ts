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
 * SparkPost webhooks: a JSON array of `{"msys": {"<class>": {event}}}` batched by SparkPost. Nothing
 * is signed: the source checks basic auth and/or a custom header. Shapes follow
 * test/fixtures/sparkpost/.
 */
const TYPE = {
  delivered: ['message_event', 'delivery'],
  opened: ['track_event', 'open'],
  clicked: ['track_event', 'click'],
  bounced: ['message_event', 'bounce'],
  complained: ['message_event', 'spam_complaint'],
} as const;

function elementOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const [eventClass, type] = TYPE[event.kind];
  const common: Record<string, unknown> = {
    type,
    campaign_id: msg.tag,
    customer_id: '1',
    delv_method: 'esmtp',
    event_id: stableNumber(`sparkpost:${event.key}`, 17),
    friendly_from: msg.from,
    injection_time: msg.sentAt.toISOString(),
    ip_pool: 'default',
    message_id: stableId(`sparkpost:${msg.key}`, 20),
    msg_from: msg.from,
    msg_size: '2048',
    num_retries: '0',
    queue_time: '12',
    raw_rcpt_to: msg.recipient,
    rcpt_meta: { user_id: stableNumber(`user:${msg.recipient}`, 6) },
    rcpt_tags: [msg.tag],
    rcpt_to: msg.recipient,
    rcpt_type: 'to',
    recv_method: 'rest',
    routing_domain: msg.recipient.split('@')[1],
    sending_ip: '198.51.100.7',
    subject: msg.subject,
    template_id: `templ-${msg.tag}`,
    template_version: '1',
    timestamp: String(unixSeconds(event.at)),
    transmission_id: stableNumber(`sparkpost:tx:${msg.key}`, 17),
  };
  switch (event.kind) {
    case 'delivered':
      common.ip_address = '203.0.113.25';
      break;
    case 'opened':
    case 'clicked':
      common.ip_address = event.ip;
      common.user_agent = event.userAgent;
      common.geo_ip = { country: 'US', region: 'MD', city: 'Columbia' };
      if (event.kind === 'clicked') {
        common.target_link_name = 'Open your account';
        common.target_link_url = event.url;
      }
      break;
    case 'bounced':
      common.bounce_class = '10';
      common.error_code = '550';
      common.raw_reason = `550 5.1.1 <${msg.recipient}>: Recipient address rejected: User unknown`;
      common.reason = '550 5.1.1 ...@... Recipient address rejected: ...';
      break;
    case 'complained':
      common.fbtype = 'abuse';
      common.report_by = 'server.email.com';
      common.report_to = 'abuse.example.com';
      break;
  }
  return { msys: { [eventClass]: common } };
}

export const sparkpostSimulator = simulator<Credentials>({
  id: 'sparkpost',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1000,
  keyHelp: CREDENTIALS_HELP,
  credential: (keys) => parseCredentials(keys, 'sparkpost'),
  forge: (credentials, rng) => forgeCredentials(credentials, rng.hex(6)),
  sourceConfig: credentialsConfig,
  request(events, credentials, _ctx) {
    return {
      method: 'POST',
      query: '',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'SparkPost',
        ...credentialHeaders(credentials),
      },
      body: json(events.map(elementOf)),
    };
  },
});
