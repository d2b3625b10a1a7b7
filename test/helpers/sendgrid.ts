import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/** A SendGrid-like signer: an ECDSA P-256 key pair and the two headers SendGrid sends. */
export interface SendGridSigner {
  /** The public key exactly as the SendGrid dashboard shows it: base64 DER SubjectPublicKeyInfo. */
  publicKey: string;
  privateKey: KeyObject;
  headers(body: string | Buffer, timestamp?: number): Record<string, string>;
}

export function sendGridSigner(): SendGridSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicDer = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  return {
    publicKey: publicDer,
    privateKey,
    headers(body, timestamp = Math.floor(Date.now() / 1000)) {
      const ts = String(timestamp);
      const payload = Buffer.concat([Buffer.from(ts), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
      const signature = sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' }).toString('base64');
      return {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signature,
        'x-twilio-email-event-webhook-timestamp': ts,
      };
    },
  };
}

let counter = 0;

/** SendGrid events with unique `sg_event_id`s, as SendGrid batches them. */
export function sendGridEvents(
  count: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown>[] {
  const types = ['processed', 'delivered', 'open', 'click', 'bounce'];
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, i) => {
    counter++;
    const event = types[i % types.length];
    const msg = `msg${counter.toString(36).padStart(6, '0')}`;
    return {
      email: `user${counter}@example.com`,
      timestamp: now - (count - i),
      'smtp-id': `<${msg}@ismtpd0001p1mdw1.sendgrid.net>`,
      event,
      category: ['test'],
      sg_event_id: `evt-${process.pid}-${counter}-${Math.random().toString(36).slice(2)}`,
      sg_message_id: `${msg}.filterdrecv-p3mdw1-56c97568b5-abcde-18-5F5FC76C-9.0`,
      ...(event === 'bounce' && { type: 'bounce', status: '5.1.1', reason: '550 5.1.1 unknown user' }),
      ...(event === 'click' && { url: 'https://example.com/x' }),
      ...overrides,
    };
  });
}

/** Serialises a batch the way SendGrid does: a JSON array followed by CRLF. */
export function sendGridBody(events: unknown[]): string {
  return `${JSON.stringify(events)}\r\n`;
}
