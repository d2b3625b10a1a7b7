import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { parseInstant, resend } from '../../../src/providers/resend.js';
import type { Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/resend');
const VECTOR = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../fixtures/vectors/resend/vector-standard-webhooks-official.json'),
    'utf8',
  ),
) as { secret: string; id: string; timestamp: string; body: string; expected_signature_header: string };

const secret = `whsec_${randomBytes(24).toString('base64')}`;

function sourceWith(config: Record<string, unknown>): Source {
  return adapterSource(resend, config);
}

const source = sourceWith({ secret });

/** Signed by the official svix library, as Resend's sender (Svix) signs. */
function svixHeaders(
  body: string,
  id = `msg_${randomBytes(12).toString('hex')}`,
  at = new Date(),
  key = secret,
) {
  return {
    'svix-id': id,
    'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
    'svix-signature': new Webhook(key).sign(id, at, body),
  };
}

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function fixture(name: string): { type: string; created_at: string; data: Record<string, unknown> } {
  return JSON.parse(fixtureText(name));
}

function parseFixture(name: string, id = `msg_${name}`) {
  const body = fixtureText(name);
  return resend.parse(rawRequest(body, svixHeaders(body, id)));
}

describe('Resend verification', () => {
  it('reproduces the official Standard Webhooks vector under the svix-* header names', () => {
    const headers = {
      'svix-id': VECTOR.id,
      'svix-timestamp': VECTOR.timestamp,
      'svix-signature': VECTOR.expected_signature_header,
    };
    const vectorSource = sourceWith({ secret: VECTOR.secret });
    expect(
      resend.verify(rawRequest(VECTOR.body, headers), vectorSource, verifyContext({ toleranceSec: 0 })),
    ).toEqual({ ok: true });
    expect(() => new Webhook(VECTOR.secret).verify(VECTOR.body, headers)).toThrow(/timestamp/i);
    expect(resend.verify(rawRequest(VECTOR.body, headers), vectorSource, verifyContext()).ok).toBe(false);
  });

  it('accepts exactly what the official svix library accepts, for every fixture', () => {
    const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(fixtures.length).toBeGreaterThan(3);
    for (const name of fixtures) {
      const body = readFileSync(join(FIXTURES, name), 'utf8');
      const headers = svixHeaders(body);
      expect(() => new Webhook(secret).verify(body, headers), name).not.toThrow();
      expect(resend.verify(rawRequest(body, headers), source, verifyContext()), name).toEqual({ ok: true });
    }
  });

  it('accepts a svix-signature header listing several signatures when one matches (secret rotation)', () => {
    const body = fixtureText('delivered');
    const headers = svixHeaders(body);
    const other = `v1,${randomBytes(32).toString('base64')}`;
    const rotated = { ...headers, 'svix-signature': `${other} ${headers['svix-signature']} v1a,abc` };
    expect(() => new Webhook(secret).verify(body, rotated)).not.toThrow();
    expect(resend.verify(rawRequest(body, rotated), source, verifyContext()).ok).toBe(true);
    const onlyWrong = { ...headers, 'svix-signature': `${other} v2,${headers['svix-signature'].slice(3)}` };
    expect(resend.verify(rawRequest(body, onlyWrong), source, verifyContext()).ok).toBe(false);
  });

  it('refuses a tampered body, another secret, a changed svix-id and missing headers, as svix does', () => {
    const body = fixtureText('bounced-permanent');
    const headers = svixHeaders(body);
    const tampered = body.replace('bounced@resend.dev', 'victim@example.com');
    const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const cases: Array<[string, Record<string, string>, Source]> = [
      [tampered, headers, source],
      [body, headers, sourceWith({ secret: otherSecret })],
      [body, { ...headers, 'svix-id': 'msg_other' }, source],
    ];
    for (const [b, h, s] of cases) {
      expect(resend.verify(rawRequest(b, h), s, verifyContext()).ok).toBe(false);
    }
    expect(() => new Webhook(secret).verify(tampered, headers)).toThrow();
    expect(() => new Webhook(otherSecret).verify(body, headers)).toThrow();
    for (const missing of ['svix-id', 'svix-timestamp', 'svix-signature']) {
      const partial = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== missing));
      expect(resend.verify(rawRequest(body, partial), source, verifyContext()).ok).toBe(false);
    }
  });

  it('refuses a timestamp older or further ahead than the tolerance, and accepts one just inside', () => {
    const now = new Date('2026-11-26T12:00:00Z');
    const ctx = verifyContext({ now, toleranceSec: 300 });
    const body = fixtureText('opened');
    const at = (sec: number) => svixHeaders(body, 'msg_t', new Date(now.getTime() + sec * 1000));
    expect(resend.verify(rawRequest(body, at(-301)), source, ctx)).toEqual({
      ok: false,
      reason: 'timestamp outside the tolerance window',
    });
    expect(resend.verify(rawRequest(body, at(301)), source, ctx).ok).toBe(false);
    expect(resend.verify(rawRequest(body, at(-299)), source, ctx).ok).toBe(true);
  });

  it('refuses garbage signatures and timestamps without throwing', () => {
    const body = fixtureText('sent');
    const headers = svixHeaders(body);
    for (const bad of ['', 'v1', 'v1,', 'v1,!!!', 'nonsense', ' ']) {
      expect(
        resend.verify(rawRequest(body, { ...headers, 'svix-signature': bad }), source, verifyContext()).ok,
      ).toBe(false);
    }
    const notTime = { ...headers, 'svix-timestamp': '2026-11-26T12:00:00Z' };
    expect(resend.verify(rawRequest(body, notTime), source, verifyContext({ toleranceSec: 0 })).ok).toBe(
      false,
    );
  });

  it('accepts the webhook-* header names Standard Webhooks senders use', () => {
    const body = fixtureText('sent');
    const h = svixHeaders(body);
    const headers = {
      'webhook-id': h['svix-id'],
      'webhook-timestamp': h['svix-timestamp'],
      'webhook-signature': h['svix-signature'],
    };
    expect(resend.verify(rawRequest(body, headers), source, verifyContext()).ok).toBe(true);
    expect(resend.parse(rawRequest(body, headers)).events[0]?.dedupKey).toBe(h['svix-id']);
  });

  it('refuses every post while the source has no signing secret', () => {
    const body = fixtureText('sent');
    expect(resend.verify(rawRequest(body, svixHeaders(body)), sourceWith({}), verifyContext())).toEqual({
      ok: false,
      reason: 'source has no signing secret yet',
    });
  });

  it('validates config: the secret is optional, must be whsec_ base64, and no other key is accepted', () => {
    expect(resend.validateConfig({})).toEqual({});
    expect(resend.validateConfig({ secret: ` ${secret} ` })).toEqual({ secret });
    expect(() => resend.validateConfig({ secret: 'not-a-secret' })).toThrow(/whsec_/);
    expect(() => resend.validateConfig({ secret: 'whsec_c2hvcnQ=' })).toThrow(/16 bytes/);
    expect(() => resend.validateConfig({ secret: 42 })).toThrow(/config.secret/);
    expect(() => resend.validateConfig({ signing_secret: secret })).toThrow(/"signing_secret"/);
    expect(() => resend.validateConfig('whsec_x')).toThrow(/config object/);
  });
});

interface Expectation {
  type: string;
  recipient: string | null;
  bounce?: { type: string; code: string | null };
}

const MAPPED: Record<string, Expectation> = {
  sent: { type: 'email.sent', recipient: 'delivered@resend.dev' },
  delivered: { type: 'email.delivered', recipient: 'delivered@resend.dev' },
  delivery_delayed: { type: 'email.deferred', recipient: 'delivered@resend.dev' },
  complained: { type: 'email.complained', recipient: 'delivered@resend.dev' },
  opened: { type: 'email.opened', recipient: 'delivered@resend.dev' },
  clicked: { type: 'email.clicked', recipient: 'delivered@resend.dev' },
  failed: { type: 'email.failed', recipient: 'delivered@resend.dev' },
  suppressed: {
    type: 'email.dropped',
    recipient: 'delivered@resend.dev',
    bounce: { type: 'undetermined', code: null },
  },
  'bounced-permanent': {
    type: 'email.bounced',
    recipient: 'bounced@resend.dev',
    bounce: { type: 'hard', code: '5.1.1' },
  },
  'bounced-transient': {
    type: 'email.bounced',
    recipient: 'delivered@resend.dev',
    bounce: { type: 'soft', code: '5.2.2' },
  },
  'bounced-undetermined': {
    type: 'email.bounced',
    recipient: 'delivered@resend.dev',
    bounce: { type: 'undetermined', code: null },
  },
  'bounced-suppressed': {
    type: 'email.dropped',
    recipient: 'delivered@resend.dev',
    bounce: { type: 'hard', code: null },
  },
  'bounced-legacy-suppressed': {
    type: 'email.dropped',
    recipient: 'blocked@example.org',
    bounce: { type: 'hard', code: null },
  },
  'sent-multi-recipient-legacy': { type: 'email.sent', recipient: null },
};

const SKIPPED = ['scheduled', 'received', 'contact-created', 'domain-updated'];

describe('Resend parsing of every documented event type', () => {
  it('has a fixture for every case and a case for every fixture', () => {
    const files = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
    expect(files.sort()).toEqual([...Object.keys(MAPPED), ...SKIPPED].sort());
  });

  for (const [name, expected] of Object.entries(MAPPED)) {
    it(`maps the ${name} fixture to ${expected.type} with its identity fields`, () => {
      const original = fixture(name);
      const { events, skipped } = parseFixture(name, `msg_${name}`);
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.type).toBe(expected.type);
      expect(event?.dedupKey).toBe(`msg_${name}`);
      expect(event?.data.provider_event_id).toBe(`msg_${name}`);
      expect(event?.data.message_id).toBe(original.data.email_id);
      expect(event?.data.recipient).toBe(expected.recipient);
      expect(event?.timestamp.toISOString()).toBe(new Date(original.created_at).toISOString());
      expect(event?.data.raw).toEqual(original);
      if (expected.bounce) expect(event?.data.bounce).toMatchObject(expected.bounce);
      else expect(event?.data.bounce).toBeUndefined();
    });
  }

  for (const name of SKIPPED) {
    it(`skips the ${name} fixture with a reason instead of failing`, () => {
      const { events, skipped } = parseFixture(name);
      expect(events).toEqual([]);
      expect(skipped).toEqual([{ index: 0, reason: expect.stringContaining(fixture(name).type) }]);
    });
  }

  it('keeps the bounce message as the reason and the enhanced code from diagnosticCode', () => {
    const [event] = parseFixture('bounced-permanent').events;
    expect(event?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: expect.stringContaining('hard bounce message'),
    });
    const [suppressed] = parseFixture('suppressed').events;
    expect(suppressed?.data.bounce?.reason).toMatch(/account-level suppression list/);
  });

  it('falls back to the SMTP reply code when diagnosticCode has no enhanced code', () => {
    const body = fixture('bounced-permanent');
    body.data.bounce = { type: 'Permanent', subType: 'General', diagnosticCode: ['smtp; 550 no such user'] };
    const text = JSON.stringify(body);
    expect(resend.parse(rawRequest(text, svixHeaders(text))).events[0]?.data.bounce?.code).toBe('550');
  });

  it('carries the clicked link, the clicking IP and user agent', () => {
    const original = fixture('clicked');
    const [event] = parseFixture('clicked').events;
    const click = original.data.click as Record<string, string>;
    expect(event?.data.click).toEqual({ url: 'https://resend.com' });
    expect(event?.data.ip).toBe(click.ipAddress);
    expect(event?.data.user_agent).toBe(click.userAgent);
  });

  it('marks opens as not known to be machine opens', () => {
    expect(parseFixture('opened').events[0]?.data.open).toEqual({ machine: false });
  });

  it('turns the documented tag object into name:value tags and metadata', () => {
    const [event] = parseFixture('delivered').events;
    expect(event?.data.tags).toEqual(['category:confirm_email']);
    expect(event?.data.metadata).toEqual({ category: 'confirm_email' });
  });

  it('also reads tags given as the send API array of {name, value}', () => {
    const body = fixture('delivered');
    body.data.tags = [
      { name: 'category', value: 'welcome' },
      { name: 'user_id', value: '1234567890' },
    ];
    const text = JSON.stringify(body);
    const [event] = resend.parse(rawRequest(text, svixHeaders(text))).events;
    expect(event?.data.tags).toEqual(['category:welcome', 'user_id:1234567890']);
    expect(event?.data.metadata).toEqual({ category: 'welcome', user_id: '1234567890' });
  });

  it('leaves the recipient null for a multi-recipient email and keeps its echoed headers as metadata', () => {
    const [event] = parseFixture('sent-multi-recipient-legacy').events;
    expect(event?.data.recipient).toBeNull();
    expect(event?.data.tags).toEqual(['tag1:Tag_1_value', 'tag2:Tag_2_value']);
    expect(event?.data.metadata).toMatchObject({
      tag1: 'Tag_1_value',
      headers: { 'X-Entity-Ref-ID': 'order-4711', Cc: expect.any(String) },
    });
  });

  it('leaves the recipient null when a single To address had Cc copies', () => {
    const body = fixture('sent-multi-recipient-legacy');
    body.data.to = ['Recipient <to@example.org>'];
    const text = JSON.stringify(body);
    expect(resend.parse(rawRequest(text, svixHeaders(text))).events[0]?.data.recipient).toBeNull();
    body.data.headers = [];
    const plain = JSON.stringify(body);
    expect(resend.parse(rawRequest(plain, svixHeaders(plain))).events[0]?.data.recipient).toBe(
      'to@example.org',
    );
  });

  it('takes the time from svix-timestamp when the body has no created_at', () => {
    const body = fixture('delivered') as Record<string, unknown>;
    delete body.created_at;
    const text = JSON.stringify(body);
    const at = new Date('2026-01-02T03:04:05Z');
    const [event] = resend.parse(rawRequest(text, svixHeaders(text, 'msg_x', at))).events;
    expect(event?.timestamp.toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('parses the same request to the same dedup key every time', () => {
    const body = fixtureText('delivered');
    const headers = svixHeaders(body, 'msg_same');
    const first = resend.parse(rawRequest(body, headers));
    const again = resend.parse(rawRequest(body, svixHeaders(body, 'msg_same')));
    expect(again).toEqual(first);
  });

  it('throws a malformed-payload error for bodies it cannot read', () => {
    const bad = [
      'not json',
      '[]',
      '{"data":{}}',
      '{"type":"email.sent","created_at":"2024-02-22T23:41:12.126Z"}',
      '{"type":"email.sent","created_at":"yesterday","data":{}}',
      '{"type":"email.sent","created_at":"2024-02-30T00:00:00Z","data":{}}',
    ];
    for (const body of bad) {
      expect(() => resend.parse(rawRequest(body, svixHeaders(body))), body).toThrow(MalformedPayloadError);
    }
    expect(() => resend.parse(rawRequest(fixtureText('sent'), {}))).toThrow(/svix-id/);
  });
});

describe('Resend timestamps', () => {
  it('reads fractional seconds, Z and offsets exactly, truncating past milliseconds', () => {
    const cases: Array<[string, string]> = [
      ['2024-11-22T23:41:12.126Z', '2024-11-22T23:41:12.126Z'],
      ['2024-11-22T23:41:11.894719+00:00', '2024-11-22T23:41:11.894Z'],
      ['2024-11-22T23:41:11.9+02:00', '2024-11-22T21:41:11.900Z'],
      ['2024-11-22T23:41:11-0530', '2024-11-23T05:11:11.000Z'],
      ['2024-11-22 23:41:11', '2024-11-22T23:41:11.000Z'],
    ];
    for (const [text, iso] of cases) expect(parseInstant(text)?.toISOString(), text).toBe(iso);
  });

  it('refuses impossible dates and non-ISO text', () => {
    for (const text of [
      '2024-13-01T00:00:00Z',
      '2024-02-30T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '1700000000',
    ]) {
      expect(parseInstant(text), text).toBeNull();
    }
  });
});
