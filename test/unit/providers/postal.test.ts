import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { postal } from '../../../src/providers/postal.js';
import type { ProviderAdapter, Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/postal');
const VECTOR = join(import.meta.dirname, '../../fixtures/vectors/postal/vector-openssl-throwaway.json');

interface Vector {
  public_key_pem: string;
  public_key_dkim_p: string;
  body: string;
  headers: Record<string, string>;
}

const vector = JSON.parse(readFileSync(VECTOR, 'utf8')) as Vector;

function sourceWith(publicKey: unknown): Source {
  return adapterSource(postal, { public_key: publicKey });
}

/** A throwaway Postal signing key, signing the way Postal's Signer does (PKCS#1 v1.5, base64). */
function postalSigner() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const signWith = (algorithm: string, body: string) =>
    sign(algorithm, Buffer.from(body), privateKey).toString('base64');
  return {
    pem,
    publicKey,
    privateKey: privateKey as KeyObject,
    headers: (body: string): Record<string, string> => ({
      'content-type': 'application/json',
      'x-postal-signature-256': signWith('sha256', body),
      'x-postal-signature': signWith('sha1', body),
    }),
  };
}

describe('Postal verification against the OpenSSL-signed vector', () => {
  const source = sourceWith(vector.public_key_pem);

  it('accepts the vector signed with RSA-SHA256', () => {
    expect(postal.verify(rawRequest(vector.body, vector.headers), source)).toEqual({ ok: true });
  });

  it('accepts the legacy RSA-SHA1 signature alone when the SHA-256 header is absent', () => {
    const { 'X-Postal-Signature-256': _, ...legacy } = vector.headers;
    expect(postal.verify(rawRequest(vector.body, legacy), source)).toEqual({ ok: true });
  });

  it('refuses the vector with one byte of the body changed', () => {
    const tampered = vector.body.replace('test@example.com', 'test@example.org');
    expect(postal.verify(rawRequest(tampered, vector.headers), source).ok).toBe(false);
  });

  it('refuses the vector with the body re-serialised with spaces', () => {
    const pretty = JSON.stringify(JSON.parse(vector.body), null, 2);
    expect(postal.verify(rawRequest(pretty, vector.headers), source).ok).toBe(false);
  });

  it('refuses a bad SHA-256 signature even when a good SHA-1 signature is present (no downgrade)', () => {
    const sha1 = vector.headers['X-Postal-Signature'] ?? '';
    const headers = { ...vector.headers, 'X-Postal-Signature-256': sha1 };
    expect(postal.verify(rawRequest(vector.body, headers), source)).toEqual({
      ok: false,
      reason: 'signature does not match',
    });
  });

  it('refuses the vector under another key', () => {
    const other = sourceWith(postalSigner().pem);
    expect(postal.verify(rawRequest(vector.body, vector.headers), other).ok).toBe(false);
  });

  it('accepts the same key given as the DKIM p= value and as a whole DKIM record', () => {
    const p = vector.public_key_dkim_p;
    for (const form of [p, `v=DKIM1; t=s; h=sha256; p=${p};`]) {
      expect(postal.verify(rawRequest(vector.body, vector.headers), sourceWith(form)).ok).toBe(true);
    }
  });

  it('accepts the same key given as the JWK or the one-key JWKS from /.well-known/jwks.json', () => {
    const jwk = createPublicKey(vector.public_key_pem).export({ format: 'jwk' });
    const kid = { ...jwk, kid: 'a'.repeat(64), use: 'sig', alg: 'RS256' };
    for (const form of [kid, { keys: [kid] }, JSON.stringify({ keys: [kid] })]) {
      expect(postal.verify(rawRequest(vector.body, vector.headers), sourceWith(form)).ok).toBe(true);
    }
  });
});

describe('Postal verification of generated requests', () => {
  const signer = postalSigner();
  const source = sourceWith(signer.pem);
  const body = readFileSync(join(FIXTURES, 'message-delivery-failed.json'), 'utf8');

  it('accepts many freshly signed fixtures', () => {
    const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(fixtures.length).toBeGreaterThan(3);
    for (const file of fixtures) {
      const text = readFileSync(join(FIXTURES, file), 'utf8');
      expect(postal.verify(rawRequest(text, signer.headers(text)), source).ok, file).toBe(true);
    }
  });

  it('refuses a request without any signature header', () => {
    expect(postal.verify(rawRequest(body, { 'content-type': 'application/json' }), source)).toEqual({
      ok: false,
      reason: 'missing X-Postal-Signature-256 header',
    });
  });

  it('refuses garbage and empty signatures without throwing', () => {
    for (const bad of ['', 'garbage!!', 'Zm9v', '====']) {
      const headers = { ...signer.headers(body), 'x-postal-signature-256': bad };
      expect(postal.verify(rawRequest(body, headers), source).ok).toBe(false);
    }
  });

  it('does not apply the freshness window: Postal retries the same signed body for ~36 minutes', async () => {
    const late = verifyContext({ now: new Date('2031-01-01T00:00:00Z'), toleranceSec: 60 });
    const adapter: ProviderAdapter = postal;
    expect((await adapter.verify(rawRequest(body, signer.headers(body)), source, late)).ok).toBe(true);
  });

  it('refuses every request when the source config carries no key', () => {
    const keyless: Source = { ...source, config: {} };
    expect(postal.verify(rawRequest(body, signer.headers(body)), keyless).ok).toBe(false);
  });
});

describe('Postal source configuration', () => {
  it('stores the key as SPKI PEM whatever form it was pasted in', () => {
    const { pem } = postalSigner();
    const pkcs1 = createPublicKey(pem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(postal.validateConfig({ public_key: pkcs1 })).toEqual({ public_key: pem });
  });

  it('refuses the private signing key, non-RSA keys, short keys and garbage', () => {
    const { privateKey } = postalSigner();
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => postal.validateConfig({ public_key: privatePem })).toThrow(/private key/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expect(() => postal.validateConfig({ public_key: ec.export({ type: 'spki', format: 'pem' }) })).toThrow(
      /RSA/,
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey;
    expect(() =>
      postal.validateConfig({ public_key: small.export({ type: 'spki', format: 'pem' }) }),
    ).toThrow(/1024/);
    for (const bad of [undefined, '', 42, 'not a key', '{"kty":"EC"}']) {
      expect(() => postal.validateConfig({ public_key: bad }), String(bad)).toThrow(/public_key/);
    }
    expect(() => postal.validateConfig(null)).toThrow(/config/);
  });
});

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

function parseFixture(name: string) {
  const envelope = fixture(name);
  return { envelope, ...postal.parse(rawRequest(JSON.stringify(envelope))) };
}

describe('Postal parsing of every documented event', () => {
  const mapped: Array<[string, string]> = [
    ['message-sent', 'email.delivered'],
    ['message-delayed', 'email.deferred'],
    ['message-delivery-failed', 'email.bounced'],
    ['message-held', 'email.dropped'],
    ['message-bounced', 'email.bounced'],
    ['message-link-clicked', 'email.clicked'],
    ['message-loaded', 'email.opened'],
  ];
  const skipped = [
    'domain-dns-error',
    'send-limit-approaching',
    'send-limit-exceeded',
    'incoming-delivery-failed',
  ];

  it('has a fixture for every documented event and nothing else', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(files.map((f) => f.replace('.json', '')).sort()).toEqual(
      [...mapped.map(([name]) => name), ...skipped].sort(),
    );
  });

  for (const [name, type] of mapped) {
    it(`maps the ${name} fixture to ${type} with its identity fields`, () => {
      const { envelope, events, skipped: none } = parseFixture(name);
      expect(none).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.type).toBe(type);
      expect(event?.dedupKey).toBe(envelope.uuid);
      expect(event?.data.provider_event_id).toBe(envelope.uuid);
      expect(event?.data.recipient).toBe('test@example.com');
      expect(event?.data.message_id).toBe('5817a64332f44_4ec93ff59e79d154565eb@app34.mail');
      expect(event?.timestamp.getTime()).toBe(Math.round((envelope.timestamp as number) * 1000));
      expect(event?.data.tags).toEqual(['welcome']);
      expect(event?.data.metadata).toEqual({});
      expect(event?.data.raw).toEqual(envelope);
    });
  }

  for (const name of skipped) {
    it(`records the ${name} fixture as skipped with a reason, not as an error`, () => {
      const result = parseFixture(name);
      expect(result.events).toEqual([]);
      expect(result.skipped).toEqual([{ index: 0, reason: expect.stringMatching(/Postal/) }]);
    });
  }

  it('keeps the fractional seconds of the envelope timestamp', () => {
    expect(parseFixture('message-sent').events[0]?.timestamp.toISOString()).toBe('2016-10-31T20:19:37.142Z');
  });

  it('classifies MessageDeliveryFailed as a hard bounce with the SMTP code and output', () => {
    expect(parseFixture('message-delivery-failed').events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: expect.stringContaining('User unknown'),
    });
  });

  it('leaves MessageBounced undetermined unless the payload declares a bounce type', () => {
    const { envelope, events } = parseFixture('message-bounced');
    expect(events[0]?.data.bounce).toEqual({ type: 'undetermined', code: null, reason: 'Delivery Error' });
    const payload = envelope.payload as Record<string, Record<string, unknown>>;
    const soft = { ...envelope, payload: { ...payload, bounce: { ...payload.bounce, bounce_type: 'soft' } } };
    expect(postal.parse(rawRequest(JSON.stringify(soft))).events[0]?.data.bounce?.type).toBe('soft');
  });

  it('reports a held message as dropped with the hold reason', () => {
    expect(parseFixture('message-held').events[0]?.data.bounce).toEqual({
      type: 'undetermined',
      code: null,
      reason: 'Recipient (test@example.com) is on the suppression list',
    });
  });

  it('carries no bounce on a delay and no SMTP code where there is none', () => {
    expect(parseFixture('message-delayed').events[0]?.data.bounce).toBeUndefined();
  });

  it('carries the click URL, the IP and the user agent of clicks and opens', () => {
    const [click] = parseFixture('message-link-clicked').events;
    expect(click?.data.click).toEqual({ url: 'https://atech.media' });
    expect(click?.data.ip).toBe('185.22.208.2');
    expect(click?.data.user_agent).toMatch(/^Mozilla/);
    const [open] = parseFixture('message-loaded').events;
    expect(open?.data.open).toEqual({ machine: false });
    expect(open?.data.ip).toBe('185.22.208.2');
  });

  it('lower-cases the recipient, strips angle brackets from the Message-ID and omits a null tag', () => {
    const envelope = fixture('message-sent');
    const payload = envelope.payload as Record<string, Record<string, unknown>>;
    const message = { ...payload.message, to: 'Test@Example.COM', message_id: '<abc@host>', tag: null };
    const [event] = postal.parse(
      rawRequest(JSON.stringify({ ...envelope, payload: { ...payload, message } })),
    ).events;
    expect(event?.data.recipient).toBe('test@example.com');
    expect(event?.data.message_id).toBe('abc@host');
    expect(event?.data.tags).toEqual([]);
  });

  it('skips an incoming-message HTTP endpoint payload and unknown events', () => {
    const inbound = postal.parse(rawRequest('{"rcpt_to":"to@example.org","message_id":"x"}'));
    expect(inbound.skipped[0]?.reason).toMatch(/not a Postal webhook event/);
    const unknown = postal.parse(rawRequest('{"event":"MessageTeleported","uuid":"u","payload":{}}'));
    expect(unknown.skipped[0]?.reason).toMatch(/MessageTeleported/);
  });

  it('throws a malformed-payload error for invalid JSON and events missing their parts', () => {
    expect(() => postal.parse(rawRequest('{"event":'))).toThrow(MalformedPayloadError);
    expect(() => postal.parse(rawRequest('[1,2]'))).toThrow(/JSON object/);
    expect(() => postal.parse(rawRequest('{"event":"MessageSent","uuid":"u"}'))).toThrow(/payload/);
    expect(() =>
      postal.parse(rawRequest('{"event":"MessageSent","uuid":"u","timestamp":1,"payload":{}}')),
    ).toThrow(/message/);
    const noTime = { ...fixture('message-loaded'), timestamp: 'yesterday' };
    expect(() => postal.parse(rawRequest(JSON.stringify(noTime)))).toThrow(/timestamp/);
  });

  it('gives an event without uuid a stable hash of the body as its dedup key', () => {
    const { uuid: _, ...envelope } = fixture('message-sent');
    const body = JSON.stringify(envelope);
    const first = postal.parse(rawRequest(body)).events[0]?.dedupKey;
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(postal.parse(rawRequest(body)).events[0]?.dedupKey).toBe(first);
  });
});
