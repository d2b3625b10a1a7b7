import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { fractionalSeconds, json } from '../format.js';
import { oneKey, readPrivateKey } from '../keys.js';
import type { SimEvent } from '../plan.js';
import { LOWER_ALNUM, stableId, stableNumber, stableUuid } from '../rng.js';
import { simulator } from '../types.js';

/**
 * Postal: one JSON envelope `{event, timestamp, uuid, payload}` per POST, signed with the server's RSA
 * key over the exact body: `X-Postal-Signature-256` (SHA-256) and `X-Postal-Signature` (SHA-1), both
 * base64, plus `X-Postal-Signature-KID`. Shapes follow test/fixtures/postal/. Postal has no
 * complaint event.
 */
const EVENT_NAME = {
  delivered: 'MessageSent',
  opened: 'MessageLoaded',
  clicked: 'MessageLinkClicked',
  bounced: 'MessageDeliveryFailed',
} as const;

const keyIds = new WeakMap<KeyObject, string>();

/** Postal's key id: 64 hex characters naming the signing key (a SHA-256 of its public half here). */
function keyIdOf(key: KeyObject): string {
  let id = keyIds.get(key);
  if (!id) {
    id = createHash('sha256')
      .update(createPublicKey(key).export({ type: 'spki', format: 'der' }))
      .digest('hex');
    keyIds.set(key, id);
  }
  return id;
}

function messageOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  return {
    id: Number(stableNumber(`postal:${msg.key}`, 9)),
    token: stableId(`postal:token:${msg.key}`, 8, LOWER_ALNUM),
    direction: 'outgoing',
    message_id: `${stableId(`postal:mid:${msg.key}`, 13)}_${stableId(msg.key, 10)}@postal.example.com`,
    to: msg.recipient,
    from: msg.from,
    subject: msg.subject,
    timestamp: fractionalSeconds(msg.sentAt),
    spam_status: 'NotSpam',
    tag: msg.tag,
  };
}

function payloadOf(event: SimEvent): Record<string, unknown> {
  const message = messageOf(event);
  const at = fractionalSeconds(event.at);
  switch (event.kind) {
    case 'opened':
      return { ip_address: event.ip, user_agent: event.userAgent, message };
    case 'clicked':
      return {
        url: event.url,
        token: stableId(`postal:link:${event.key}`, 8),
        ip_address: event.ip,
        user_agent: event.userAgent,
        message,
      };
    case 'bounced':
      return {
        status: 'HardFail',
        details: `Permanent SMTP delivery error when sending to mx.${event.message.recipient.split('@')[1]}`,
        output: '550 5.1.1 The email account that you tried to reach does not exist.',
        time: 0.31,
        sent_with_ssl: true,
        timestamp: at,
        message,
      };
    default:
      return {
        status: 'Sent',
        details: `Message sent by SMTP to mx.${event.message.recipient.split('@')[1]} (203.0.113.25)`,
        output: '250 2.0.0 OK',
        time: 0.22,
        sent_with_ssl: true,
        timestamp: at,
        message,
      };
  }
}

export const postalSimulator = simulator<KeyObject>({
  id: 'postal',
  kinds: ['delivered', 'opened', 'clicked', 'bounced'],
  maxBatch: 1,
  keyHelp:
    'path to the RSA signing key PEM (signing.key); "--key generate" prints a new one (stdout) and its public key for config.public_key (stderr)',
  credential: (keys, files) =>
    readPrivateKey(oneKey(keys, 'postal', '<signing.key PEM file>|generate'), files, 'rsa'),
  forge: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  sourceConfig: (key) => ({
    public_key: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
  }),
  request(events, key, _ctx) {
    const [event] = events;
    if (!event || event.kind === 'complained' || events.length > 1) {
      throw new Error('postal posts one delivery, open, click or bounce per request');
    }
    const body = json({
      event: EVENT_NAME[event.kind],
      timestamp: fractionalSeconds(event.at),
      uuid: stableUuid(`postal:${event.key}`),
      payload: payloadOf(event),
    });
    return {
      method: 'POST',
      query: '',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Postal/3.3.4',
        'x-postal-signature-kid': keyIdOf(key),
        'x-postal-signature': sign('sha1', Buffer.from(body), key).toString('base64'),
        'x-postal-signature-256': sign('sha256', Buffer.from(body), key).toString('base64'),
      },
      body,
    };
  },
  generate() {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      sourceConfig: {
        public_key: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
      },
    };
  },
});
