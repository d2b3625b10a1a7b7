import { describe, expect, it } from 'vitest';
import { generateSecret, webhookHeaders } from '../../../src/delivery/sign.js';
import type { CanonicalEvent } from '../../../src/events.js';
import {
  type VerificationFailure,
  verifyDelivery,
  WebhookVerificationError,
} from '../../../src/verify/index.js';

const NOW = new Date('2026-11-26T12:00:00.000Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);

const EVENT: CanonicalEvent = {
  id: 'evt_01JDTESTVERIFY00000000000',
  type: 'email.bounced',
  timestamp: '2026-11-26T11:59:58.000Z',
  data: {
    provider: 'sendgrid',
    source_id: 'src_01JDTEST',
    provider_event_id: 'sg-1',
    message_id: 'msg-1',
    recipient: 'user@example.com',
    bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
    user_agent: null,
    ip: null,
    tags: ['welcome'],
    metadata: { tenant: 'acme' },
    received_at: '2026-11-26T11:59:59.000Z',
    raw: { event: 'bounce', note: 'ünïcödé ✓' },
  },
};

/** A delivery exactly as the delivery worker builds it. */
function delivery(secrets: string[], options: { timestamp?: number; body?: string } = {}) {
  const body = options.body ?? JSON.stringify(EVENT);
  const headers = webhookHeaders({
    id: EVENT.id,
    timestamp: options.timestamp ?? NOW_SEC,
    body,
    secrets,
    userAgent: 'mailhook/test',
  });
  return { body, headers };
}

function failure(run: () => unknown): VerificationFailure {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).reason;
  }
  throw new Error('expected verification to fail');
}

describe('verifyDelivery', () => {
  it('returns the typed canonical event of a delivery signed by mailhook', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    const event = verifyDelivery({ body, headers, secret, now: NOW });
    expect(event).toEqual(EVENT);
    expect(event.data.bounce?.type).toBe('hard');
  });

  it('accepts the body as bytes and the headers as a fetch Headers or in any letter case', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyDelivery({ body: Buffer.from(body), headers: upper, secret, now: NOW }).id).toBe(EVENT.id);
    const fetchHeaders = new Headers(headers);
    const bytes = new TextEncoder().encode(body);
    expect(verifyDelivery({ body: bytes, headers: fetchHeaders, secret, now: NOW }).id).toBe(EVENT.id);
  });

  it('verifies during a rotation with either the new or the old secret', () => {
    const [fresh, old] = [generateSecret(), generateSecret()];
    const { body, headers } = delivery([fresh, old]);
    expect(verifyDelivery({ body, headers, secret: old, now: NOW }).id).toBe(EVENT.id);
    expect(verifyDelivery({ body, headers, secrets: [generateSecret(), fresh], now: NOW }).id).toBe(EVENT.id);
  });

  it('refuses a wrong secret or a changed body as a signature mismatch', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    expect(failure(() => verifyDelivery({ body, headers, secret: generateSecret(), now: NOW }))).toBe(
      'signature_mismatch',
    );
    const reserialised = JSON.stringify(JSON.parse(body), null, 2);
    expect(failure(() => verifyDelivery({ body: reserialised, headers, secret, now: NOW }))).toBe(
      'signature_mismatch',
    );
    const forged = { ...headers, 'webhook-id': 'evt_other' };
    expect(failure(() => verifyDelivery({ body, headers: forged, secret, now: NOW }))).toBe(
      'signature_mismatch',
    );
  });

  it('refuses timestamps outside the tolerance in both directions, unless the check is off', () => {
    const secret = generateSecret();
    const old = delivery([secret], { timestamp: NOW_SEC - 301 });
    expect(failure(() => verifyDelivery({ ...old, secret, now: NOW }))).toBe('timestamp_too_old');
    const ahead = delivery([secret], { timestamp: NOW_SEC + 301 });
    expect(failure(() => verifyDelivery({ ...ahead, secret, now: NOW }))).toBe('timestamp_too_new');
    expect(verifyDelivery({ ...old, secret, now: NOW, toleranceSeconds: 600 }).id).toBe(EVENT.id);
    expect(verifyDelivery({ ...old, secret, now: NOW, toleranceSeconds: 0 }).id).toBe(EVENT.id);
    const bad = { ...old.headers, 'webhook-timestamp': '2026-11-26T12:00:00Z' };
    expect(failure(() => verifyDelivery({ body: old.body, headers: bad, secret, now: NOW }))).toBe(
      'invalid_timestamp',
    );
  });

  it('names each missing header, a bad secret and a body that was parsed before verification', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    const { 'webhook-signature': _s, 'webhook-id': _i, ...partial } = headers;
    expect(() => verifyDelivery({ body, headers: partial, secret, now: NOW })).toThrow(
      'missing header: webhook-id, webhook-signature',
    );
    expect(failure(() => verifyDelivery({ body, headers, secret: 'not-a-secret', now: NOW }))).toBe(
      'invalid_secret',
    );
    expect(failure(() => verifyDelivery({ body, headers, now: NOW }))).toBe('invalid_secret');
    const parsed = JSON.parse(body) as unknown as string;
    expect(failure(() => verifyDelivery({ body: parsed, headers, secret, now: NOW }))).toBe('invalid_body');
  });

  it('never puts the secret into an error message', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    for (const attempt of [secret, `${secret}!`]) {
      let message: string | null = null;
      try {
        verifyDelivery({ body: `${body} `, headers, secret: attempt, now: NOW });
      } catch (err) {
        message = (err as Error).message;
      }
      // A tampered body must be refused, and the refusal must not quote the secret.
      expect(message).not.toBeNull();
      expect(message).not.toContain(secret.slice(6));
    }
  });

  it('refuses a correctly signed body that is not a canonical event', () => {
    const secret = generateSecret();
    const notEvent = delivery([secret], { body: '{"hello": "world"}' });
    expect(failure(() => verifyDelivery({ ...notEvent, secret, now: NOW }))).toBe('invalid_payload');
    const notJson = delivery([secret], { body: 'hello' });
    expect(failure(() => verifyDelivery({ ...notJson, secret, now: NOW }))).toBe('invalid_payload');
  });
});
