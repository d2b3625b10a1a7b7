import {
  type Credentials,
  credentialHeaders,
  credentialsConfig,
  forgeCredentials,
  parseCredentials,
} from '../keys.js';
import type { SimEvent } from '../plan.js';
import { ALNUM, stableId, stableUuid } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Elastic Email HTTP web notifications: one GET per event, the event in the query string (added to
 * the notification URL's own query, which carries the source's `mh_token`). Nothing is signed.
 * Shapes follow test/fixtures/elasticemail/.
 */
const STATUS = {
  delivered: 'Sent',
  opened: 'Opened',
  clicked: 'Clicked',
  bounced: 'Error',
  complained: 'AbuseReport',
} as const;

/** `3/25/2026 11:40:12 AM`, UTC, as Elastic Email writes `date`. */
function usDate(date: Date): string {
  const hours = date.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  const clock = `${hours % 12 === 0 ? 12 : hours % 12}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()} ${clock} ${hours < 12 ? 'AM' : 'PM'}`;
}

function paramsOf(event: SimEvent): URLSearchParams {
  const msg = event.message;
  const params = new URLSearchParams({
    transaction: stableUuid(`elasticemail:${msg.key}`),
    messageid: stableId(`elasticemail:${msg.key}`, 23, ALNUM),
    from: msg.from,
    to: msg.recipient,
    subject: msg.subject,
    channel: msg.tag,
    account: 'owner@example.com',
    postback: `${msg.tag}-${stableId(msg.key, 6)}`,
    date: usDate(event.at),
    status: STATUS[event.kind],
  });
  if (event.kind === 'bounced') params.set('category', 'NoMailbox');
  if (event.kind === 'clicked' && event.url) params.set('target', event.url);
  return params;
}

export const elasticemailSimulator = simulator<Credentials>({
  id: 'elasticemail',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: 'token:<value> (mh_token in the URL, config.query_token), user:pass and/or header:<name>:<value>',
  credential: (keys) => parseCredentials(keys, 'elasticemail', true),
  forge: (credentials, rng) => forgeCredentials(credentials, rng.hex(6)),
  sourceConfig: credentialsConfig,
  request(events, credentials, _ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('elasticemail notifies one event per request');
    const token = credentials.token === undefined ? '' : `mh_token=${encodeURIComponent(credentials.token)}&`;
    return {
      method: 'GET',
      query: `${token}${paramsOf(event).toString()}`,
      headers: credentialHeaders(credentials),
      body: '',
    };
  },
});
