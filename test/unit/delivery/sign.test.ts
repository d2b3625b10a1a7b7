import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateSecret, signatureHeader, webhookHeaders } from '../../../src/delivery/sign.js';
import { MailhookError } from '../../../src/errors.js';

// The test vector published with the Standard Webhooks specification.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({ id: 'evt_1', type: 'email.bounced', data: { recipient: 'a@example.com' } });

function headersFor(secrets: string[], extra?: Record<string, string>) {
  return webhookHeaders({
    id: 'evt_1',
    timestamp: nowSeconds(),
    body,
    secrets,
    userAgent: 'mailhook/test',
    extra,
  });
}

/** The same headers under svix's own names, as a Svix-branded receiver reads them. */
function svixBranded(headers: Record<string, string>): Record<string, string> {
  return {
    'svix-id': headers['webhook-id'] ?? '',
    'svix-timestamp': headers['webhook-timestamp'] ?? '',
    'svix-signature': headers['webhook-signature'] ?? '',
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('signatureHeader', () => {
  it('reproduces the Standard Webhooks test vector', () => {
    expect(signatureHeader([VECTOR.secret], VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('signs the test vector so that both official libraries accept it', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: (VECTOR.timestamp + 10) * 1000 });
    const headers = {
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': signatureHeader([VECTOR.secret], VECTOR.id, VECTOR.timestamp, VECTOR.body),
    };
    expect(new StandardWebhook(VECTOR.secret).verify(VECTOR.body, headers)).toEqual({ test: 2432232314 });
    expect(new SvixWebhook(VECTOR.secret).verify(VECTOR.body, headers)).toEqual({ test: 2432232314 });
  });

  it('writes one v1 entry per secret, newest first, separated by spaces', () => {
    const newer = generateSecret();
    const header = signatureHeader([newer, VECTOR.secret], VECTOR.id, VECTOR.timestamp, VECTOR.body);
    const entries = header.split(' ');
    expect(entries).toHaveLength(2);
    expect(entries[0]).toBe(signatureHeader([newer], VECTOR.id, VECTOR.timestamp, VECTOR.body));
    expect(entries[1]).toBe(VECTOR.signature);
  });

  it('throws a validation error for a malformed secret without echoing it', () => {
    // The last one is valid base64 but only 5 bytes: too short to be a key.
    for (const secret of ['not-a-secret', 'whsec_***bad***', 'whsec_c2hvcnQ=']) {
      let thrown: unknown;
      try {
        signatureHeader([VECTOR.secret, secret], VECTOR.id, VECTOR.timestamp, VECTOR.body);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(MailhookError);
      expect((thrown as MailhookError).code).toBe('MH_ERR_VALIDATION');
      expect((thrown as MailhookError).message).toContain('#2');
      expect((thrown as MailhookError).message).not.toContain(secret);
    }
  });

  it('throws when there is no secret, or only an empty one, to sign with', () => {
    expect(() => signatureHeader(['whsec_'], VECTOR.id, VECTOR.timestamp, VECTOR.body)).toThrow(
      MailhookError,
    );
    expect(() => signatureHeader([], VECTOR.id, VECTOR.timestamp, VECTOR.body)).toThrow(MailhookError);
  });

  it('throws when the timestamp is not whole Unix seconds', () => {
    expect(() => signatureHeader([VECTOR.secret], VECTOR.id, 1614265330.5, VECTOR.body)).toThrow(RangeError);
    expect(() => signatureHeader([VECTOR.secret], VECTOR.id, -1, VECTOR.body)).toThrow(RangeError);
  });
});

describe('webhookHeaders', () => {
  it('sets the content type, user agent and the three Standard Webhooks headers', () => {
    const secret = generateSecret();
    const headers = webhookHeaders({
      id: 'evt_1',
      timestamp: 1614265330,
      body,
      secrets: [secret],
      userAgent: 'mailhook/1.0',
    });
    expect(headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'mailhook/1.0',
      'webhook-id': 'evt_1',
      'webhook-timestamp': '1614265330',
      'webhook-signature': signatureHeader([secret], 'evt_1', 1614265330, body),
    });
  });

  it('is verified by the standardwebhooks library', () => {
    const secret = generateSecret();
    expect(new StandardWebhook(secret).verify(body, headersFor([secret]))).toEqual(JSON.parse(body));
  });

  it('is verified by the svix library under both the webhook-* and the svix-* header names', () => {
    const secret = generateSecret();
    const headers = headersFor([secret]);
    expect(new SvixWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new SvixWebhook(secret).verify(body, svixBranded(headers))).toEqual(JSON.parse(body));
  });

  it('is verified with either secret alone while a rotation signs with both', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const headers = headersFor([newSecret, oldSecret]);
    for (const secret of [newSecret, oldSecret]) {
      expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(new SvixWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(new SvixWebhook(secret).verify(body, svixBranded(headers))).toEqual(JSON.parse(body));
    }
  });

  it('is rejected by both libraries for a secret that did not sign it', () => {
    const headers = headersFor([generateSecret()]);
    const stranger = generateSecret();
    expect(() => new StandardWebhook(stranger).verify(body, headers)).toThrow();
    expect(() => new SvixWebhook(stranger).verify(body, headers)).toThrow();
  });

  it('detects a changed body with both libraries', () => {
    const secret = generateSecret();
    const headers = headersFor([secret]);
    const tampered = body.replace('bounced', 'delivered');
    expect(() => new StandardWebhook(secret).verify(tampered, headers)).toThrow();
    expect(() => new SvixWebhook(secret).verify(tampered, headers)).toThrow();
  });

  it('adds custom headers in lower case but never lets them replace the ones mailhook sets', () => {
    const secret = generateSecret();
    const signedAt = nowSeconds();
    const headers = headersFor([secret], {
      'X-Tenant': 'acme',
      'Content-Type': 'text/plain',
      'User-Agent': 'spoof',
      'Webhook-Id': 'evt_forged',
      'webhook-timestamp': '1',
      'WEBHOOK-SIGNATURE': 'v1,forged',
    });
    expect(headers['x-tenant']).toBe('acme');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toBe('mailhook/test');
    expect(headers['webhook-id']).toBe('evt_1');
    // Read just before signing: a second may tick over between the two reads, never two.
    expect(Number(headers['webhook-timestamp']) - signedAt).toBeGreaterThanOrEqual(0);
    expect(Number(headers['webhook-timestamp']) - signedAt).toBeLessThanOrEqual(1);
    expect(headers['webhook-signature']).not.toContain('forged');
    expect(Object.keys(headers).filter((name) => name !== name.toLowerCase())).toEqual([]);
    expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('keeps a custom header named __proto__ as an ordinary header', () => {
    const extra = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
    const headers = headersFor([generateSecret()], extra);
    expect(Object.hasOwn(headers, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  });
});

describe('generateSecret', () => {
  it('makes a whsec_ secret of 24 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(24);
    expect(generateSecret()).not.toBe(secret);
  });

  it('makes secrets the official libraries accept as keys', () => {
    const secret = generateSecret();
    const headers = headersFor([secret]);
    expect(() => new StandardWebhook(secret).verify(body, headers)).not.toThrow();
  });
});
