import { json } from '../format.js';
import { CANONICAL_TYPE, type SimEvent } from '../plan.js';
import { ALNUM, stableId } from '../rng.js';
import { simulator } from '../types.js';
import { forgeWhsec, standardHeaders, whsecKey } from './standard-signing.js';

/**
 * A Standard Webhooks sender posting mailhook's canonical shape, one event per request:
 * `{"type", "timestamp", "data"}` with `webhook-id` as the event's id (and mailhook's dedup key).
 */
function bodyOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const data: Record<string, unknown> = {
    message_id: `msg_${stableId(`standard:${msg.key}`, 24, ALNUM)}`,
    recipient: msg.recipient,
    tags: [msg.tag],
    metadata: { subject: msg.subject },
  };
  if (event.kind === 'opened' || event.kind === 'clicked') {
    data.ip = event.ip;
    data.user_agent = event.userAgent;
  }
  if (event.kind === 'opened') data.open = { machine: false };
  if (event.kind === 'clicked') data.click = { url: event.url };
  if (event.kind === 'bounced') {
    data.bounce = { type: 'hard', code: '5.1.1', reason: '550 5.1.1 The email account does not exist' };
  }
  return { type: CANONICAL_TYPE[event.kind], timestamp: event.at.toISOString(), data };
}

export const standardSimulator = simulator<string>({
  id: 'standard',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: 'the whsec_… secret (config.secret)',
  credential: (keys) => whsecKey(keys, 'standard'),
  forge: (_secret, rng) => forgeWhsec(rng),
  sourceConfig: (secret) => ({ secret }),
  request(events, secret, ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('standard posts one event per request');
    const body = json(bodyOf(event));
    const id = `msg_${stableId(`standard:${event.key}`, 27, ALNUM)}`;
    return {
      method: 'POST',
      query: '',
      headers: standardHeaders('webhook', id, secret, ctx.now, body),
      body,
    };
  },
});
