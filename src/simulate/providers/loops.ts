import { json, unixSeconds } from '../format.js';
import type { SimEvent } from '../plan.js';
import { LOWER_ALNUM, stableId } from '../rng.js';
import { simulator } from '../types.js';
import { forgeWhsec, standardHeaders, whsecKey } from './standard-signing.js';

/**
 * Loops webhooks: one event per POST, `{"eventName", "eventTime", "webhookSchemaVersion",
 * "contactIdentity", "email", …}`, signed with Standard Webhooks (`webhook-*`). Shapes follow
 * test/fixtures/loops/. Loops reports no link on clicks and no bounce details.
 */
const EVENT_NAME = {
  delivered: 'email.delivered',
  opened: 'email.opened',
  clicked: 'email.clicked',
  bounced: 'email.hardBounced',
  complained: 'email.spamReported',
} as const;

/** Loops ids are cuid-like: 25 lower-case characters starting with "c". */
function cuid(key: string): string {
  return `c${stableId(key, 24, LOWER_ALNUM)}`;
}

function bodyOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  return {
    eventName: EVENT_NAME[event.kind],
    eventTime: unixSeconds(event.at),
    webhookSchemaVersion: '1.0.0',
    sourceType: 'transactional',
    transactionalId: cuid(`loops:tx:${msg.tag}`),
    email: {
      id: cuid(`loops:${msg.key}`),
      emailMessageId: cuid(`loops:mid:${msg.key}`),
      subject: msg.subject,
    },
    contactIdentity: { id: cuid(`loops:contact:${msg.recipient}`), email: msg.recipient, userId: null },
  };
}

export const loopsSimulator = simulator<string>({
  id: 'loops',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1,
  keyHelp: 'the signing secret whsec_… (config.secret)',
  credential: (keys) => whsecKey(keys, 'loops'),
  forge: (_secret, rng) => forgeWhsec(rng),
  sourceConfig: (secret) => ({ secret }),
  request(events, secret, ctx) {
    const [event] = events;
    if (!event || events.length > 1) throw new Error('loops posts one event per request');
    const body = json(bodyOf(event));
    const id = `msg_${stableId(`loops:${event.key}`, 27, LOWER_ALNUM)}`;
    return {
      method: 'POST',
      query: '',
      headers: standardHeaders('webhook', id, secret, ctx.now, body),
      body,
    };
  },
});
