import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { json, unixSeconds } from '../format.js';
import { oneKey, readPrivateKey } from '../keys.js';
import type { SimEvent } from '../plan.js';
import { ALNUM, BASE64URL, stableId } from '../rng.js';
import { simulator } from '../types.js';

/**
 * SendGrid Event Webhook: a JSON array of events followed by CRLF, signed with ECDSA P-256 over the
 * timestamp header immediately followed by the body (Signed Event Webhook). Field shapes follow
 * test/fixtures/sendgrid/ (SendGrid's "Event Webhook Reference").
 */
function publicKeyOf(key: KeyObject): string {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('base64');
}

const EVENT_NAME = {
  delivered: 'delivered',
  opened: 'open',
  clicked: 'click',
  bounced: 'bounce',
  complained: 'spamreport',
} as const;

function eventOf(event: SimEvent): Record<string, unknown> {
  const msg = event.message;
  const sgId = stableId(`sendgrid:${msg.key}`, 22, BASE64URL);
  const base: Record<string, unknown> = {
    email: msg.recipient,
    timestamp: unixSeconds(event.at),
    'smtp-id': `<${sgId}@ismtpd0104p1mdw1.sendgrid.net>`,
    event: EVENT_NAME[event.kind],
    category: [msg.tag],
    sg_event_id: stableId(`sendgrid:${event.key}`, 48, ALNUM),
    sg_message_id: `${sgId}.filterdrecv-5d8c9b6f4-2xk7q-1-${stableId(msg.key, 8).toUpperCase()}-9.0`,
    // A custom arg (unique_args), echoed on every event of the message.
    user_id: stableId(`user:${msg.recipient}`, 6, '0123456789'),
  };
  switch (event.kind) {
    case 'delivered':
      return {
        ...base,
        response: '250 2.0.0 OK  d75a77b69052e-4401b1a2c3esi1234567qtb.512 - gsmtp',
        ip: '198.51.100.23',
        tls: 1,
        cert_err: 0,
      };
    case 'opened':
      return { ...base, useragent: event.userAgent, ip: event.ip, sg_machine_open: false };
    case 'clicked':
      return {
        ...base,
        useragent: event.userAgent,
        ip: event.ip,
        url: event.url,
        url_offset: { index: 0, type: 'html' },
      };
    case 'bounced':
      return {
        ...base,
        type: 'bounce',
        status: '5.1.1',
        reason: `550 5.1.1 The email account that you tried to reach does not exist: ${msg.recipient}`,
        bounce_classification: 'Invalid Address',
        ip: '198.51.100.23',
        tls: 1,
      };
    case 'complained':
      return base;
  }
}

export const sendgridSimulator = simulator<KeyObject>({
  id: 'sendgrid',
  kinds: ['delivered', 'opened', 'clicked', 'bounced', 'complained'],
  maxBatch: 1000,
  keyHelp:
    'path to an ECDSA P-256 private key PEM; "--key generate" prints a new one (stdout) and its public key for config.public_key (stderr)',
  credential: (keys, files) =>
    readPrivateKey(oneKey(keys, 'sendgrid', '<private key PEM file>|generate'), files, 'ec'),
  forge: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
  sourceConfig: (key) => ({ public_key: publicKeyOf(key) }),
  request(events, key, ctx) {
    const body = `${json(events.map(eventOf))}\r\n`;
    const timestamp = String(unixSeconds(ctx.now));
    const payload = Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]);
    const signature = sign('sha256', payload, { key, dsaEncoding: 'der' }).toString('base64');
    return {
      method: 'POST',
      query: '',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'SendGrid Event API',
        'x-twilio-email-event-webhook-signature': signature,
        'x-twilio-email-event-webhook-timestamp': timestamp,
      },
      body,
    };
  },
  generate() {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return {
      privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      sourceConfig: { public_key: publicKeyOf(privateKey) },
    };
  },
});
