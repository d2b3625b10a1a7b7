import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { decodeWebhookSecret, signStandard } from '../../../src/providers/crypto.js';
import { standard } from '../../../src/providers/standard.js';
import type { Source, VerifyContext } from '../../../src/providers/types.js';
import { rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const VECTOR = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../fixtures/vectors/resend/vector-standard-webhooks-official.json'),
    'utf8',
  ),
) as { secret: string; id: string; timestamp: string; body: string; expected_signature_header: string };

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const source: Source = {
  id: 'src_std',
  name: 'std',
  provider: 'standard',
  config: standard.validateConfig({ secret }),
  enabled: true,
  createdAt: new Date(),
  updatedAt: new Date(),
};

/** Signs with the official library, as a real Standard Webhooks sender would. */
function officialHeaders(body: string, id = `msg_${randomBytes(8).toString('hex')}`, at = new Date()) {
  const signature = new Webhook(secret).sign(id, at, body);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

const ctx = (): VerifyContext => verifyContext();

describe('Standard Webhooks verification', () => {
  it('reproduces the official library test vector', () => {
    const key = decodeWebhookSecret(VECTOR.secret);
    expect(key).not.toBeNull();
    expect(signStandard(VECTOR.id, VECTOR.timestamp, VECTOR.body, key as Buffer)).toBe(
      VECTOR.expected_signature_header,
    );
    const vectorSource: Source = { ...source, config: { secret: VECTOR.secret } };
    const headers = {
      'webhook-id': VECTOR.id,
      'webhook-timestamp': VECTOR.timestamp,
      'webhook-signature': VECTOR.expected_signature_header,
    };
    expect(
      standard.verify(rawRequest(VECTOR.body, headers), vectorSource, verifyContext({ toleranceSec: 0 })).ok,
    ).toBe(true);
  });

  it('accepts what the official standardwebhooks library signs', () => {
    const body = JSON.stringify({ type: 'email.delivered', data: { recipient: 'a@example.com' } });
    expect(standard.verify(rawRequest(body, officialHeaders(body)), source, ctx())).toEqual({ ok: true });
  });

  it('produces signatures the official library verifies', () => {
    const body = '{"type":"email.opened"}';
    const ts = String(Math.floor(Date.now() / 1000));
    const key = decodeWebhookSecret(secret) as Buffer;
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': ts,
      'webhook-signature': signStandard('msg_1', ts, body, key),
    };
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
  });

  it('accepts a header listing several signatures when one of them matches (secret rotation)', () => {
    const body = '{"type":"email.sent"}';
    const headers = officialHeaders(body);
    headers['webhook-signature'] = `v1,${randomBytes(32).toString('base64')} ${headers['webhook-signature']}`;
    expect(standard.verify(rawRequest(body, headers), source, ctx()).ok).toBe(true);
  });

  it('refuses a tampered body, a changed id, a wrong secret, a stale timestamp and missing headers', () => {
    const body = '{"type":"email.sent"}';
    const headers = officialHeaders(body);
    expect(standard.verify(rawRequest('{"type":"email.bounced"}', headers), source, ctx()).ok).toBe(false);
    expect(
      standard.verify(rawRequest(body, { ...headers, 'webhook-id': 'msg_other' }), source, ctx()).ok,
    ).toBe(false);
    const other: Source = { ...source, config: { secret: `whsec_${randomBytes(32).toString('base64')}` } };
    expect(standard.verify(rawRequest(body, headers), other, ctx()).ok).toBe(false);
    const stale = officialHeaders(body, 'msg_old', new Date(Date.now() - 10 * 60_000));
    expect(standard.verify(rawRequest(body, stale), source, ctx()).ok).toBe(false);
    expect(standard.verify(rawRequest(body, {}), source, ctx()).ok).toBe(false);
  });

  it('rejects a config without a whsec_ secret', () => {
    expect(() => standard.validateConfig({})).toThrow(/config.secret/);
    expect(() => standard.validateConfig({ secret: 'plain' })).toThrow(/whsec_/);
  });
});

describe('Standard Webhooks parsing', () => {
  it('reads a canonical event and uses the webhook-id as dedup key', () => {
    const body = JSON.stringify({
      type: 'email.bounced',
      timestamp: '2026-11-26T12:00:00.000Z',
      data: {
        recipient: ' User@Example.com ',
        message_id: 'm-1',
        bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
        tags: ['welcome'],
        metadata: { tenant: 't1' },
      },
    });
    const { events } = standard.parse(rawRequest(body, officialHeaders(body, 'msg_abc')));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'email.bounced',
      dedupKey: 'msg_abc',
      data: {
        recipient: 'user@example.com',
        message_id: 'm-1',
        provider_event_id: 'msg_abc',
        bounce: { type: 'hard', code: '5.1.1', reason: 'no such user' },
        tags: ['welcome'],
        metadata: { tenant: 't1' },
      },
    });
    expect(events[0]?.timestamp.toISOString()).toBe('2026-11-26T12:00:00.000Z');
  });

  it('takes the time from webhook-timestamp when the body has none', () => {
    const body = '{"type":"email.delivered","data":{}}';
    const headers = officialHeaders(body, 'msg_t', new Date('2026-01-01T00:00:00Z'));
    expect(standard.parse(rawRequest(body, headers)).events[0]?.timestamp.toISOString()).toBe(
      '2026-01-01T00:00:00.000Z',
    );
  });

  it('accepts custom event types outside email.*, keeping their data exactly as posted', () => {
    const data = { invoice_id: 'inv_9', amount: 42, metadata: { plan: 'pro' }, tags: ['vip'] };
    const body = JSON.stringify({ type: 'invoice.paid', data });
    const [event] = standard.parse(rawRequest(body, officialHeaders(body, 'msg_inv'))).events;
    expect(event?.type).toBe('invoice.paid');
    expect(event?.dedupKey).toBe('msg_inv');
    expect(JSON.parse(JSON.stringify(event?.data))).toEqual(data);
    // What the store indexes and endpoint filters read, taken from the top level.
    expect(event?.data).toMatchObject({ tags: ['vip'], metadata: { plan: 'pro' }, recipient: null });
  });

  it('does not type-check the fields of a custom event: its data belongs to the sender', () => {
    const data = { tags: 'x', recipient: 5, ip: ['10.0.0.1'], bounce: { type: 'medium' } };
    const body = JSON.stringify({ type: 'order.shipped', data });
    const [event] = standard.parse(rawRequest(body, officialHeaders(body))).events;
    expect(JSON.parse(JSON.stringify(event?.data))).toEqual(data);
    expect(event?.data).toMatchObject({ tags: [], recipient: null });
  });

  it('stores no system.* event (the namespace belongs to mailhook) and says why in a note', () => {
    const body = '{"type":"system.endpoint.disabled","data":{"metadata":{"endpoint_id":"ep_1"}}}';
    expect(standard.parse(rawRequest(body, officialHeaders(body)))).toEqual({
      events: [],
      skipped: [{ index: 0, reason: '"system.endpoint.disabled": system.* types are reserved' }],
    });
  });

  it('refuses unknown email.* types, bad JSON and badly typed fields', () => {
    const cases = [
      '{"type":"email.exploded"}',
      'not json',
      '[]',
      '{"data":{}}',
      '{"type":"email.sent","data":{"tags":"x"}}',
      '{"type":"email.sent","data":{"recipient":5}}',
      '{"type":"email.sent","timestamp":"yesterday"}',
      '{"type":"email.bounced","data":{"bounce":{"type":"medium"}}}',
    ];
    for (const body of cases) {
      expect(() => standard.parse(rawRequest(body, officialHeaders(body))), body).toThrow();
    }
  });
});
