import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { loops } from '../../../src/providers/loops.js';
import type { Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/loops');
const VECTOR = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../fixtures/vectors/loops/vector-standard-webhooks-official.json'),
    'utf8',
  ),
) as { secret: string; id: string; timestamp: string; body: string; expected_signature_header: string };

const secret = `whsec_${randomBytes(32).toString('base64')}`;

function sourceWith(config: Record<string, unknown>): Source {
  return adapterSource(loops, config);
}

const source = sourceWith({ secret });

/** Signed by the official standardwebhooks library, the scheme Loops documents. */
function signed(body: string, id = `msg_${randomBytes(12).toString('hex')}`, at = new Date(), key = secret) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(key).sign(id, at, body),
  };
}

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function fixture(name: string): Record<string, unknown> & {
  eventTime: number;
  contactIdentity?: { email: string; id: string };
  email?: { id: string; emailMessageId: string };
  mailingList?: { id: string; name: string };
} {
  return JSON.parse(fixtureText(name));
}

function parseFixture(name: string, id = `msg_${name}`) {
  const body = fixtureText(name);
  return loops.parse(rawRequest(body, signed(body, id)));
}

describe('Loops verification', () => {
  it('reproduces the official Standard Webhooks vector', () => {
    const headers = {
      'webhook-id': VECTOR.id,
      'webhook-timestamp': VECTOR.timestamp,
      'webhook-signature': VECTOR.expected_signature_header,
    };
    const vectorSource = sourceWith({ secret: VECTOR.secret });
    expect(
      loops.verify(rawRequest(VECTOR.body, headers), vectorSource, verifyContext({ toleranceSec: 0 })),
    ).toEqual({
      ok: true,
    });
    expect(loops.verify(rawRequest(VECTOR.body, headers), vectorSource, verifyContext()).ok).toBe(false);
  });

  it('accepts exactly what the official standardwebhooks library accepts, for every fixture', () => {
    const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(fixtures.length).toBeGreaterThan(3);
    for (const name of fixtures) {
      const body = readFileSync(join(FIXTURES, name), 'utf8');
      const headers = signed(body);
      expect(() => new Webhook(secret).verify(body, headers), name).not.toThrow();
      expect(loops.verify(rawRequest(body, headers), source, verifyContext()), name).toEqual({ ok: true });
    }
  });

  it('accepts a signature list with one matching entry (secret rotation)', () => {
    const body = fixtureText('email.delivered');
    const headers = signed(body);
    const rotated = {
      ...headers,
      'webhook-signature': `v1,${randomBytes(32).toString('base64')} ${headers['webhook-signature']}`,
    };
    expect(loops.verify(rawRequest(body, rotated), source, verifyContext()).ok).toBe(true);
  });

  it('refuses a tampered body, another secret, a changed id, a stale timestamp and missing headers', () => {
    const body = fixtureText('email.hardBounced');
    const headers = signed(body);
    const tampered = body.replace('test+1@loops.so', 'victim@example.com');
    const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
    expect(loops.verify(rawRequest(tampered, headers), source, verifyContext()).ok).toBe(false);
    expect(() => new Webhook(secret).verify(tampered, headers)).toThrow();
    expect(
      loops.verify(rawRequest(body, headers), sourceWith({ secret: otherSecret }), verifyContext()).ok,
    ).toBe(false);
    expect(
      loops.verify(rawRequest(body, { ...headers, 'webhook-id': 'msg_x' }), source, verifyContext()).ok,
    ).toBe(false);
    const stale = signed(body, 'msg_old', new Date(Date.now() - 10 * 60_000));
    expect(loops.verify(rawRequest(body, stale), source, verifyContext()).ok).toBe(false);
    expect(loops.verify(rawRequest(body, {}), source, verifyContext()).ok).toBe(false);
  });

  it('does not take Svix header names: Loops sends webhook-*', () => {
    const body = fixtureText('email.opened');
    const h = signed(body);
    const svix = {
      'svix-id': h['webhook-id'],
      'svix-timestamp': h['webhook-timestamp'],
      'svix-signature': h['webhook-signature'],
    };
    expect(loops.verify(rawRequest(body, svix), source, verifyContext()).ok).toBe(false);
  });

  it('refuses every post while the source has no signing secret, and validates the config', () => {
    const body = fixtureText('email.opened');
    expect(loops.verify(rawRequest(body, signed(body)), sourceWith({}), verifyContext()).ok).toBe(false);
    expect(() => loops.validateConfig({ secret: 'plain' })).toThrow(/loops config.secret/);
    expect(() => loops.validateConfig({ secret, extra: 1 })).toThrow(/"extra"/);
  });
});

interface Expectation {
  type: string;
  bounce?: 'hard' | 'soft';
  group?: string | null;
  sourceType?: string;
}

const MAPPED: Record<string, Expectation> = {
  'campaign.email.sent': { type: 'email.sent', sourceType: 'campaign' },
  'loop.email.sent': { type: 'email.sent', sourceType: 'loop' },
  'transactional.email.sent': { type: 'email.sent', sourceType: 'transactional' },
  'email.delivered': { type: 'email.delivered', sourceType: 'campaign' },
  'email.softBounced': { type: 'email.bounced', bounce: 'soft', sourceType: 'campaign' },
  'email.hardBounced': { type: 'email.bounced', bounce: 'hard', sourceType: 'campaign' },
  'email.opened': { type: 'email.opened', sourceType: 'campaign' },
  'email.clicked': { type: 'email.clicked', sourceType: 'campaign' },
  'email.spamReported': { type: 'email.complained', sourceType: 'campaign' },
  'email.resubscribed': { type: 'email.resubscribed', group: null, sourceType: 'campaign' },
  'contact.unsubscribed': { type: 'email.unsubscribed', group: null },
  'contact.mailingList.unsubscribed': { type: 'email.unsubscribed', group: 'cm4ittp2k000l12j3lgrzvlxt' },
  'contact.mailingList.subscribed': { type: 'email.resubscribed', group: 'cm4ittp2k000l12j3lgrzvlxt' },
};

const SKIPPED = ['email.unsubscribed', 'contact.created', 'contact.deleted', 'testing.testEvent'];

describe('Loops parsing of every documented event type', () => {
  it('has a fixture for every documented event and a case for every fixture', () => {
    const files = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
    expect(files.sort()).toEqual([...Object.keys(MAPPED), ...SKIPPED].sort());
  });

  for (const [name, expected] of Object.entries(MAPPED)) {
    it(`maps ${name} to ${expected.type} with its identity fields`, () => {
      const original = fixture(name);
      const { events, skipped } = parseFixture(name);
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.type).toBe(expected.type);
      expect(event?.dedupKey).toBe(`msg_${name}`);
      expect(event?.data.provider_event_id).toBe(`msg_${name}`);
      expect(event?.data.recipient).toBe('test+1@loops.so');
      expect(event?.data.message_id).toBe(original.email?.id ?? null);
      expect(event?.timestamp.getTime()).toBe(original.eventTime * 1000);
      expect(event?.data.raw).toEqual(original);
      expect(event?.data.tags).toEqual([]);
      expect(event?.data.metadata).toMatchObject({ contactId: 'cm4ittmhq0011ow9h6fb460yw' });
      if (expected.sourceType) expect(event?.data.metadata.sourceType).toBe(expected.sourceType);
      if (original.email) expect(event?.data.metadata.emailMessageId).toBe(original.email.emailMessageId);
      if (expected.bounce)
        expect(event?.data.bounce).toEqual({ type: expected.bounce, code: null, reason: null });
      else expect(event?.data.bounce).toBeUndefined();
      if (expected.group !== undefined) expect(event?.data.unsubscribe).toEqual({ group: expected.group });
      else expect(event?.data.unsubscribe).toBeUndefined();
    });
  }

  for (const name of SKIPPED) {
    it(`skips ${name} with a reason instead of failing`, () => {
      const { events, skipped } = parseFixture(name);
      expect(events).toEqual([]);
      expect(skipped).toEqual([{ index: 0, reason: expect.stringContaining(name) }]);
    });
  }

  it('keeps what sent the email and the mailing lists in metadata', () => {
    const [sent] = parseFixture('campaign.email.sent').events;
    expect(sent?.data.metadata).toEqual({
      sourceType: 'campaign',
      campaignId: 'cm4t1suns001uw6atri87v54s',
      emailMessageId: 'cm4t1suns001ww6atotin3bn1',
      contactId: 'cm4ittmhq0011ow9h6fb460yw',
      mailingListIds: ['cm4ittp2k000l12j3lgrzvlxt'],
    });
    const [list] = parseFixture('contact.mailingList.unsubscribed').events;
    expect(list?.data.metadata).toMatchObject({ mailingListName: 'test mailing list' });
  });

  it('lower-cases the recipient and keeps the userId you gave Loops', () => {
    const body = {
      ...fixture('email.delivered'),
      contactIdentity: { id: 'c1', email: 'Ada@Example.COM', userId: 'u_7' },
    };
    const text = JSON.stringify(body);
    const [event] = loops.parse(rawRequest(text, signed(text))).events;
    expect(event?.data.recipient).toBe('ada@example.com');
    expect(event?.data.metadata).toMatchObject({ userId: 'u_7', contactId: 'c1' });
  });

  it('flags clicks without a URL (Loops sends none) and opens as not known to be machine opens', () => {
    expect(parseFixture('email.clicked').events[0]?.data.click).toEqual({ url: null });
    expect(parseFixture('email.opened').events[0]?.data.open).toEqual({ machine: false });
  });

  it('maps a sent event from any future source, e.g. workflow.email.sent', () => {
    const text = JSON.stringify({ ...fixture('loop.email.sent'), eventName: 'workflow.email.sent' });
    const [event] = loops.parse(rawRequest(text, signed(text))).events;
    expect(event?.type).toBe('email.sent');
    expect(event?.data.metadata.sourceType).toBe('workflow');
  });

  it('reads eventTime given as a numeric string or in milliseconds', () => {
    for (const eventTime of ['1734425918', 1734425918000]) {
      const text = JSON.stringify({ ...fixture('email.delivered'), eventTime });
      expect(loops.parse(rawRequest(text, signed(text))).events[0]?.timestamp.toISOString()).toBe(
        '2024-12-17T08:58:38.000Z',
      );
    }
  });

  it('skips unknown event names and throws a malformed-payload error for unreadable bodies', () => {
    const unknown = JSON.stringify({ eventName: 'contact.updated', eventTime: 1, contactIdentity: {} });
    expect(loops.parse(rawRequest(unknown, signed(unknown))).skipped).toHaveLength(1);
    const bad = [
      'not json',
      '[]',
      '{"eventTime":1734425918}',
      '{"eventName":"email.delivered","eventTime":1734425918}',
      '{"eventName":"email.delivered","contactIdentity":{"email":"a@b.c"}}',
      '{"eventName":"email.delivered","eventTime":"soon","contactIdentity":{"email":"a@b.c"}}',
    ];
    for (const body of bad) {
      expect(() => loops.parse(rawRequest(body, signed(body))), body).toThrow(MalformedPayloadError);
    }
    expect(() => loops.parse(rawRequest(fixtureText('email.opened'), {}))).toThrow(/webhook-id/);
  });
});
