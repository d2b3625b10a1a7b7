import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailhookError, MalformedPayloadError } from '../../../src/errors.js';
import { mailgun } from '../../../src/providers/mailgun.js';
import type { RawRequest, Source, VerifyContext } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const VECTORS = join(import.meta.dirname, '../../fixtures/vectors/mailgun');
const FIXTURES = join(import.meta.dirname, '../../fixtures/mailgun');

interface Vector {
  signing_key: string;
  timestamp: string;
  token: string;
  expected_signature: string;
}
const vector = JSON.parse(readFileSync(join(VECTORS, 'vector-mailgun-php.json'), 'utf8')) as Vector;
const KEY = vector.signing_key;
const SUBACCOUNT_KEY = 'subaccount-signing-key-0123456789abcdef';
const WRONG_TOKEN = 'owyldpe6nxhmrn78epljl6bj0orrki1u3d2v5e6cnlmmuox8jr';

type Json = Record<string, unknown>;
interface CurrentFixture {
  signature: { timestamp: string; token: string; signature: string; 'parent-signature'?: string };
  'event-data': Json;
}
interface LegacyFixture {
  encoding: 'urlencoded' | 'multipart';
  attachments?: Array<{ name: string; filename: string; type: string; content: string }>;
  fields: Array<[string, string]>;
}

function fixture<T = CurrentFixture>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as T;
}

function sourceWith(signingKey: string): Source {
  return adapterSource(mailgun, { signing_key: signingKey });
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const jsonRequest = (payload: unknown) => rawRequest(JSON.stringify(payload), JSON_HEADERS);

function hmac(timestamp: string, token: string, key = KEY): string {
  return createHmac('sha256', key)
    .update(timestamp + token)
    .digest('hex');
}

/** A current-format payload signed now (or at `timestampSec`) with `key`. */
function signed(eventData: Json, opts: { key?: string; timestampSec?: number; token?: string } = {}) {
  const timestamp = String(opts.timestampSec ?? Math.floor(Date.now() / 1000));
  const token = opts.token ?? `tok${Math.random().toString(36).slice(2)}${'x'.repeat(40)}`.slice(0, 50);
  return {
    signature: { timestamp, token, signature: hmac(timestamp, token, opts.key) },
    'event-data': eventData,
  };
}

function legacyRequest(legacy: LegacyFixture): RawRequest {
  if (legacy.encoding === 'urlencoded') {
    const params = new URLSearchParams();
    for (const [name, value] of legacy.fields) params.append(name, value);
    return rawRequest(params.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
  }
  const boundary = '----mailhookBoundary7MA4YWxkTrZu0gW';
  const parts = legacy.fields.map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  for (const file of legacy.attachments ?? []) {
    parts.push(
      `--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\n` +
        `Content-Type: ${file.type}\r\n\r\n${file.content}\r\n`,
    );
  }
  return rawRequest(`${parts.join('')}--${boundary}--\r\n`, {
    'content-type': `multipart/form-data; boundary=${boundary}`,
  });
}

const CURRENT_FIXTURES = [
  'accepted',
  'delivered',
  'subaccount-delivered',
  'failed-permanent-bounce',
  'failed-permanent-delayed',
  'failed-temporary',
  'failed-suppress-bounce',
  'failed-suppress-unsubscribe',
  'failed-suppress-complaint',
  'failed-old',
  'rejected',
  'opened',
  'opened-bot',
  'clicked',
  'unsubscribed',
  'complained',
  'list-member-uploaded',
];
const LEGACY_FIXTURES = [
  'legacy-delivered',
  'legacy-dropped',
  'legacy-dropped-old',
  'legacy-bounced',
  'legacy-clicked',
  'legacy-opened',
  'legacy-unsubscribed',
  'legacy-complained',
];

const source = sourceWith(KEY);
const noFreshness = (): VerifyContext => verifyContext({ toleranceSec: 0 });
const fiveMinutes = (now = new Date()): VerifyContext => verifyContext({ now, toleranceSec: 300 });

describe('Mailgun verification against the official mailgun-php vector', () => {
  const payload = {
    signature: { timestamp: vector.timestamp, token: vector.token, signature: vector.expected_signature },
    'event-data': { event: 'delivered', timestamp: Number(vector.timestamp) },
  };

  it('accepts the vector as a current JSON webhook', () => {
    expect(mailgun.verify(jsonRequest(payload), source, noFreshness()).ok).toBe(true);
  });

  it('accepts the vector as a legacy form post', () => {
    const body = new URLSearchParams({
      event: 'delivered',
      timestamp: vector.timestamp,
      token: vector.token,
      signature: vector.expected_signature,
    }).toString();
    const req = rawRequest(body, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(mailgun.verify(req, source, noFreshness()).ok).toBe(true);
  });

  it('refuses the vector with the other token of its negative case', () => {
    const tampered = { ...payload, signature: { ...payload.signature, token: WRONG_TOKEN } };
    expect(mailgun.verify(jsonRequest(tampered), source, noFreshness())).toEqual({
      ok: false,
      reason: 'signature does not match',
    });
  });

  it('refuses the negative case with timestamp 0, an empty token and an empty signature', () => {
    const empty = { ...payload, signature: { timestamp: '0', token: '', signature: '' } };
    expect(mailgun.verify(jsonRequest(empty), source, noFreshness()).ok).toBe(false);
  });

  it('refuses the vector under another signing key and as stale once the freshness check is on', () => {
    expect(mailgun.verify(jsonRequest(payload), sourceWith('key-other'), noFreshness()).ok).toBe(false);
    expect(mailgun.verify(jsonRequest(payload), source, fiveMinutes())).toEqual({
      ok: false,
      reason: 'timestamp outside the tolerance window',
    });
  });
});

/** Changes the last hex digit, whatever it was: a fixed replacement equals the original one time in 16. */
function otherLastHexDigit(hex: string): string {
  return `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
}

describe('Mailgun verification of signatures, freshness and tokens', () => {
  const delivered = fixture('delivered')['event-data'];

  it('accepts every signed fixture exactly as stored', () => {
    for (const name of CURRENT_FIXTURES) {
      expect(mailgun.verify(jsonRequest(fixture(name)), source, noFreshness()).ok, name).toBe(true);
    }
    for (const name of LEGACY_FIXTURES) {
      const req = legacyRequest(fixture<LegacyFixture>(name));
      expect(mailgun.verify(req, source, noFreshness()).ok, name).toBe(true);
    }
  });

  it('refuses a changed timestamp, a changed signature, a non-hex signature and a missing block', () => {
    const good = signed(delivered);
    const variants = [
      { ...good, signature: { ...good.signature, timestamp: String(Number(good.signature.timestamp) - 1) } },
      { ...good, signature: { ...good.signature, signature: otherLastHexDigit(good.signature.signature) } },
      { ...good, signature: { ...good.signature, signature: 'z'.repeat(64) } },
      { 'event-data': delivered },
      { ...good, signature: { ...good.signature, timestamp: 'yesterday' } },
    ];
    for (const variant of variants) {
      expect(mailgun.verify(jsonRequest(variant), source, fiveMinutes()).ok).toBe(false);
    }
    expect(mailgun.verify(rawRequest('{"signature": ', JSON_HEADERS), source, fiveMinutes()).ok).toBe(false);
  });

  it('accepts an upper-case hex signature and a timestamp posted as a JSON integer', () => {
    const good = signed(delivered);
    const upper = {
      ...good,
      signature: { ...good.signature, signature: good.signature.signature.toUpperCase() },
    };
    expect(mailgun.verify(jsonRequest(upper), source, fiveMinutes()).ok).toBe(true);
    const numeric = signed(delivered);
    const asNumber = {
      ...numeric,
      signature: { ...numeric.signature, timestamp: Number(numeric.signature.timestamp) },
    };
    expect(mailgun.verify(jsonRequest(asNumber), source, fiveMinutes()).ok).toBe(true);
  });

  it('refuses timestamps older or further in the future than the tolerance, in both directions', () => {
    const now = new Date();
    const nowSec = Math.floor(now.getTime() / 1000);
    for (const [offset, ok] of [
      [-301, false],
      [-299, true],
      [299, true],
      [301, false],
    ] as const) {
      const body = signed(delivered, { timestampSec: nowSec + offset });
      expect(mailgun.verify(jsonRequest(body), source, fiveMinutes(now)).ok, String(offset)).toBe(ok);
    }
  });

  it('hands the token to the ingest path, to be bound to this body, only once the signature verifies', () => {
    const genuine = signed(delivered);
    const verification = mailgun.verify(jsonRequest(genuine), source, fiveMinutes());
    expect(verification).toMatchObject({ ok: true, oneTimeToken: { token: genuine.signature.token } });
    const badSignature = {
      ...genuine,
      signature: {
        ...genuine.signature,
        signature: hmac(genuine.signature.timestamp, genuine.signature.token, 'x'),
      },
    };
    expect(mailgun.verify(jsonRequest(badSignature), source, fiveMinutes())).not.toHaveProperty(
      'oneTimeToken',
    );
  });

  it('accepts a byte-identical redelivery, which the dedup key then stores once', () => {
    const ctx = fiveMinutes();
    const body = signed(delivered);
    expect(mailgun.verify(jsonRequest(body), source, ctx).ok).toBe(true);
    expect(mailgun.verify(jsonRequest(body), source, ctx).ok).toBe(true);
    const keys = [jsonRequest(body), jsonRequest(body)].map((r) => mailgun.parse(r).events[0]?.dedupKey);
    expect(keys[0]).toBe(keys[1]);
  });

  it('binds a token until its timestamp leaves the window, and for a day when freshness is off', () => {
    const nowSec = 1_770_000_000;
    const now = new Date((nowSec + 100) * 1000);
    const request = jsonRequest(signed(delivered, { timestampSec: nowSec }));
    const fresh = mailgun.verify(request, source, verifyContext({ now, toleranceSec: 300 }));
    expect(fresh).toMatchObject({ oneTimeToken: { expiresAt: new Date((nowSec + 301) * 1000) } });
    const off = mailgun.verify(request, source, verifyContext({ now, toleranceSec: 0 }));
    expect(off).toMatchObject({ oneTimeToken: { expiresAt: new Date(now.getTime() + 86_400_000) } });
  });

  it("accepts a subaccount's event through parent-signature, computed with the primary account's key", () => {
    const sub = fixture('subaccount-delivered');
    expect(mailgun.verify(jsonRequest(sub), source, noFreshness()).ok).toBe(true);
    expect(mailgun.verify(jsonRequest(sub), sourceWith(SUBACCOUNT_KEY), noFreshness()).ok).toBe(true);
    expect(mailgun.verify(jsonRequest(sub), sourceWith('key-third'), noFreshness()).ok).toBe(false);
  });

  it('reads the last token, timestamp and signature of a legacy post whose variables reuse those names', () => {
    const clicked = fixture<LegacyFixture>('legacy-clicked');
    expect(clicked.fields.filter(([name]) => name === 'token')).toHaveLength(2);
    expect(mailgun.verify(legacyRequest(clicked), source, noFreshness()).ok).toBe(true);
  });

  it('refuses a multipart post that cannot be read and a form without signature fields', () => {
    const broken = rawRequest('--b\r\nContent-Disposition: form-data; name="token"\r\n\r\nabc', {
      'content-type': 'multipart/form-data; boundary=b',
    });
    expect(mailgun.verify(broken, source, noFreshness()).ok).toBe(false);
    const noBoundary = rawRequest('x', { 'content-type': 'multipart/form-data' });
    expect(mailgun.verify(noBoundary, source, noFreshness()).ok).toBe(false);
    const unsigned = rawRequest('event=delivered', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(mailgun.verify(unsigned, source, noFreshness()).ok).toBe(false);
  });
});

describe('Mailgun source configuration', () => {
  it('requires config.signing_key as a non-empty string without spaces', () => {
    for (const config of [
      {},
      { signing_key: '' },
      { signing_key: 42 },
      { signing_key: 'two words' },
      null,
      [],
    ]) {
      expect(() => mailgun.validateConfig(config)).toThrow(MailhookError);
    }
    const error = (() => {
      try {
        mailgun.validateConfig({});
      } catch (err) {
        return err;
      }
    })();
    expect(error).toMatchObject({
      code: 'MH_ERR_INVALID_SOURCE_CONFIG',
      message: expect.stringContaining('signing_key'),
    });
  });

  it('keeps only the trimmed signing key', () => {
    expect(mailgun.validateConfig({ signing_key: ` ${KEY}\n`, other: 1 })).toEqual({ signing_key: KEY });
  });

  it('explains the dashboard steps with the ingest URL', () => {
    const text = mailgun.setup(source, 'https://hooks.example.com/ingest/src_1');
    expect(text).toContain('https://hooks.example.com/ingest/src_1');
    expect(text).toContain('signing_key');
  });
});

/** The canonical output of every fixture (all fields but `raw`), written out by hand-checked values. */
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<
  string,
  { type: string; timestamp: string; dedupKey: string; data: Json }
>;

function expectCanonical(req: RawRequest, name: string) {
  const { events, skipped } = mailgun.parse(req);
  expect(skipped, name).toEqual([]);
  expect(events, name).toHaveLength(1);
  const { type, timestamp, dedupKey, data } = events[0]!;
  const { raw, ...rest } = data;
  expect({ type, timestamp: timestamp.toISOString(), dedupKey, data: rest }, name).toEqual(EXPECTED[name]);
  return raw;
}

describe('Mailgun parsing of current webhooks', () => {
  it('maps every fixture to its canonical event, with event-data as raw and id:timestamp as dedup key', () => {
    const mapped = CURRENT_FIXTURES.filter((name) => name !== 'list-member-uploaded');
    expect(Object.keys(EXPECTED).filter((name) => !name.startsWith('legacy-'))).toEqual(mapped);
    for (const name of mapped) {
      const payload = fixture(name);
      expect(expectCanonical(jsonRequest(payload), name), name).toEqual(payload['event-data']);
      expect(EXPECTED[name]?.dedupKey).toBe(`${payload['event-data'].id}:${payload['event-data'].timestamp}`);
    }
  });

  it('skips mailing-list, inbound and unknown events with a reason', () => {
    for (const name of ['list_member_uploaded', 'list_uploaded', 'stored', 'something_new']) {
      const payload = {
        ...fixture('list-member-uploaded'),
        'event-data': { event: name, timestamp: 1770156000 },
      };
      expect(mailgun.parse(jsonRequest(payload))).toEqual({
        events: [],
        skipped: [{ index: 0, reason: `Mailgun event "${name}" is not an email event` }],
      });
    }
  });

  it('gives the same dedup key to a resend, and another to the same id on another day', () => {
    const payload = fixture('delivered');
    const again = mailgun.parse(rawRequest(JSON.stringify(payload, null, 4))).events[0]?.dedupKey;
    expect(again).toBe(mailgun.parse(jsonRequest(payload)).events[0]?.dedupKey);
    const nextDay = { ...payload['event-data'], timestamp: 1770232831.6585283 };
    const other = mailgun.parse(jsonRequest({ ...payload, 'event-data': nextDay })).events[0]?.dedupKey;
    expect(other).not.toBe(again);
  });

  it('strips angle brackets from a Message-ID, as the send API returns it with them', () => {
    const event = {
      ...fixture('delivered')['event-data'],
      message: { headers: { 'message-id': '<a.b@x.org>' } },
    };
    expect(mailgun.parse(jsonRequest(signed(event))).events[0]?.data.message_id).toBe('a.b@x.org');
  });

  it('reads a numeric-string timestamp, falls back to the signature timestamp, and hashes an event without id', () => {
    const base = { event: 'delivered', recipient: 'a@example.com' };
    const parsed = mailgun.parse(jsonRequest(signed({ ...base, timestamp: '1770000000.5' }))).events[0]!;
    expect(parsed.timestamp.toISOString()).toBe('2026-02-02T02:40:00.500Z');
    expect(parsed.dedupKey).toMatch(/^sha256:[0-9a-f]{64}$/);
    const fallback = mailgun.parse(jsonRequest(signed(base, { timestampSec: 1770000001 }))).events[0]!;
    expect(fallback.timestamp.toISOString()).toBe('2026-02-02T02:40:01.000Z');
  });

  it('quarantines bodies that are not Mailgun events', () => {
    const bodies = [
      '{"event-data": ',
      '[]',
      '{"signature": {}}',
      '{"event-data": {"timestamp": 1770000000}}',
      '{"event-data": {"event": "delivered", "timestamp": "soon"}}',
    ];
    for (const body of bodies)
      expect(() => mailgun.parse(rawRequest(body, JSON_HEADERS)), body).toThrow(MalformedPayloadError);
  });
});

describe('Mailgun parsing of legacy form webhooks', () => {
  it('maps every legacy fixture, URL-encoded or multipart, with the token as event id and dedup key', () => {
    expect(Object.keys(EXPECTED).filter((name) => name.startsWith('legacy-'))).toEqual(LEGACY_FIXTURES);
    for (const name of LEGACY_FIXTURES) {
      const legacy = fixture<LegacyFixture>(name);
      const token = legacy.fields.filter(([field]) => field === 'token').at(-1)?.[1];
      expect(EXPECTED[name]?.dedupKey, name).toBe(`legacy:${token}`);
      expectCanonical(legacyRequest(legacy), name);
    }
  });

  it('keeps no working signature in the raw event it delivers, but keeps variables that reuse signed names', () => {
    for (const name of LEGACY_FIXTURES) {
      const legacy = fixture<LegacyFixture>(name);
      const raw = mailgun.parse(legacyRequest(legacy)).events[0]?.data.raw as Json;
      for (const field of ['signature', 'timestamp', 'token']) {
        const values = legacy.fields.filter(([f]) => f === field).map(([, value]) => value);
        // What is left is exactly the same-named variables posted before the signature block's value.
        const kept = values.slice(0, -1);
        expect(raw[field], `${name} ${field}`).toEqual(
          kept.length === 0 ? undefined : kept.length === 1 ? kept[0] : kept,
        );
      }
    }
    const clicked = mailgun.parse(legacyRequest(fixture<LegacyFixture>('legacy-clicked'))).events[0]?.data
      .raw;
    expect(clicked).toMatchObject({ signature: 'metadata-signature', token: 'metadata-token' });
  });

  it('keeps repeated fields as arrays in raw and leaves the attachment out', () => {
    const clicked = mailgun.parse(legacyRequest(fixture<LegacyFixture>('legacy-clicked'))).events[0]!;
    expect((clicked.data.raw as Json).tag).toEqual(['actual-tag-1', 'actual-tag-2']);
    const dropped = mailgun.parse(legacyRequest(fixture<LegacyFixture>('legacy-dropped'))).events[0]!;
    expect(dropped.data.raw).toMatchObject({ 'attachment-count': '1', event: 'dropped' });
    expect(dropped.data.raw).not.toHaveProperty('attachment-1');
  });

  it('skips an inbound route post and a form without an event', () => {
    const inbound = rawRequest('sender=a%40example.com&body-plain=hi&timestamp=1&token=t&signature=s', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(mailgun.parse(inbound).skipped[0]?.reason).toMatch(/inbound route post/);
    const empty = rawRequest('foo=bar', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(mailgun.parse(empty).skipped).toHaveLength(1);
  });

  it('quarantines an unreadable multipart body and a legacy post without a timestamp', () => {
    const broken = rawRequest('garbage', { 'content-type': 'multipart/form-data; boundary=b' });
    expect(() => mailgun.parse(broken)).toThrow(MalformedPayloadError);
    const noTime = rawRequest('event=delivered&token=t', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(() => mailgun.parse(noTime)).toThrow(MalformedPayloadError);
  });
});
