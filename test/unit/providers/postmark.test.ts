import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { parseJsonLossless } from '../../../src/providers/json.js';
import { parseIsoInstant, postmark } from '../../../src/providers/postmark.js';
import { POSTMARK_BOUNCE_TYPES } from '../../../src/providers/postmark-bounce-types.js';
import type { Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/postmark');
const USER = 'postmark-hooks';
const PASSWORD = 'correct horse battery staple';
const HEADER = { name: 'X-Mailhook-Secret', value: 'a-long-shared-secret-0123456789' };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function sourceWith(config: Record<string, unknown>): Source {
  return adapterSource(postmark, config);
}

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

/** Fixtures read the way the adapter reads them: integers beyond 2^53 stay exact strings. */
function fixture(name: string): Record<string, unknown> {
  return parseJsonLossless(fixtureText(name)) as Record<string, unknown>;
}

/** Parses one record, given as the raw text Postmark posts or as an object to serialise. */
function parseOne(record: string | Record<string, unknown>) {
  const result = postmark.parse(rawRequest(typeof record === 'string' ? record : JSON.stringify(record)));
  expect(result.events, JSON.stringify(result.skipped)).toHaveLength(1);
  return result.events[0]!;
}

const ctx = verifyContext();

describe('Postmark source configuration', () => {
  it('accepts basic auth, a secret header, or both, and lower-cases the header name', () => {
    expect(postmark.validateConfig({ basic_auth: { username: USER, password: PASSWORD } })).toEqual({
      basic_auth: { username: USER, password: PASSWORD },
    });
    expect(postmark.validateConfig({ header: HEADER })).toEqual({
      header: { name: 'x-mailhook-secret', value: HEADER.value },
    });
    expect(
      Object.keys(
        postmark.validateConfig({ basic_auth: { username: USER, password: PASSWORD }, header: HEADER }),
      ),
    ).toEqual(['basic_auth', 'header']);
  });

  it('rejects a config without credentials, with a short password or with a bad header name', () => {
    expect(() => postmark.validateConfig({})).toThrow(/basic_auth/);
    expect(() => postmark.validateConfig(null)).toThrow(/config/);
    expect(() => postmark.validateConfig({ basic_auth: { username: USER, password: 'short' } })).toThrow(
      /at least 12/,
    );
    expect(() => postmark.validateConfig({ header: { name: 'bad header', value: HEADER.value } })).toThrow(
      /header name/,
    );
  });
});

describe('Postmark verification by credentials', () => {
  const body = fixtureText('delivery');
  const basicSource = sourceWith({ basic_auth: { username: USER, password: PASSWORD } });
  const headerSource = sourceWith({ header: HEADER });
  const bothSource = sourceWith({ basic_auth: { username: USER, password: PASSWORD }, header: HEADER });

  it('accepts the configured basic auth credentials', async () => {
    expect(
      await postmark.verify(rawRequest(body, { authorization: basic(USER, PASSWORD) }), basicSource, ctx),
    ).toEqual({ ok: true });
  });

  it('refuses a wrong password, a wrong user and a missing Authorization header', async () => {
    for (const auth of [basic(USER, `${PASSWORD}!`), basic('someone', PASSWORD), undefined]) {
      const headers: Record<string, string> = auth ? { authorization: auth } : {};
      expect((await postmark.verify(rawRequest(body, headers), basicSource, ctx)).ok).toBe(false);
    }
  });

  it('accepts the configured secret header whatever the case of its name, and refuses a wrong value', async () => {
    expect(
      (await postmark.verify(rawRequest(body, { 'X-MAILHOOK-SECRET': HEADER.value }), headerSource, ctx)).ok,
    ).toBe(true);
    expect(
      (
        await postmark.verify(
          rawRequest(body, { 'x-mailhook-secret': `${HEADER.value}x` }),
          headerSource,
          ctx,
        )
      ).ok,
    ).toBe(false);
    expect((await postmark.verify(rawRequest(body), headerSource, ctx)).ok).toBe(false);
  });

  it('requires both credentials when both are configured', async () => {
    const auth = { authorization: basic(USER, PASSWORD) };
    expect((await postmark.verify(rawRequest(body, auth), bothSource, ctx)).ok).toBe(false);
    expect(
      (
        await postmark.verify(
          rawRequest(body, { ...auth, 'x-mailhook-secret': HEADER.value }),
          bothSource,
          ctx,
        )
      ).ok,
    ).toBe(true);
  });

  it('refuses garbage Authorization headers and sources without credentials without throwing', async () => {
    for (const auth of ['Basic', 'Basic !!!', 'Bearer x', basic('', '')]) {
      expect((await postmark.verify(rawRequest(body, { authorization: auth }), basicSource, ctx)).ok).toBe(
        false,
      );
    }
    const bare: Source = { ...basicSource, config: {} };
    expect(
      (await postmark.verify(rawRequest(body, { authorization: basic(USER, PASSWORD) }), bare, ctx)).ok,
    ).toBe(false);
  });

  it('never puts the secret in the refusal reason', async () => {
    const result = await postmark.verify(
      rawRequest(body, { 'x-mailhook-secret': 'nope' }),
      headerSource,
      ctx,
    );
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain(HEADER.value);
  });
});

describe('Postmark timestamps', () => {
  it('parses seven fractional digits and offsets exactly to the millisecond', () => {
    expect(parseIsoInstant('2019-11-05T16:33:54.9070259Z')?.toISOString()).toBe('2019-11-05T16:33:54.907Z');
    expect(parseIsoInstant('2014-08-01T13:28:10.2735393-04:00')?.toISOString()).toBe(
      '2014-08-01T17:28:10.273Z',
    );
    expect(parseIsoInstant('2020-02-01T10:53:34.416071Z')?.toISOString()).toBe('2020-02-01T10:53:34.416Z');
    expect(parseIsoInstant('2016-12-01T15:41:45-05:00')?.toISOString()).toBe('2016-12-01T20:41:45.000Z');
    expect(parseIsoInstant('2019-11-05T16:42:00.5+0530')?.toISOString()).toBe('2019-11-05T11:12:00.500Z');
  });

  it('truncates digits past the millisecond instead of rounding into the next second', () => {
    expect(parseIsoInstant('2019-12-31T23:59:59.9999999Z')?.toISOString()).toBe('2019-12-31T23:59:59.999Z');
  });

  it('reads a time without an offset as UTC and refuses impossible dates', () => {
    expect(parseIsoInstant('2022-06-05T17:17:32')?.toISOString()).toBe('2022-06-05T17:17:32.000Z');
    expect(parseIsoInstant('2019-02-30T00:00:00Z')).toBeNull();
    expect(parseIsoInstant('2019-11-05 garbage')).toBeNull();
    expect(parseIsoInstant('1572971634')).toBeNull();
  });
});

interface Expectation {
  type: string;
  timeField: string;
  recipient: string;
  bounce?: string;
  id?: string;
}

const EXPECTED: Record<string, Expectation> = {
  delivery: { type: 'email.delivered', timeField: 'DeliveredAt', recipient: 'john@example.com' },
  'bounce-hard': {
    type: 'email.bounced',
    timeField: 'BouncedAt',
    recipient: 'john@example.com',
    bounce: 'hard',
    id: '4323372036854775807',
  },
  'bounce-soft': {
    type: 'email.bounced',
    timeField: 'BouncedAt',
    recipient: 'jane.doe@example.com',
    bounce: 'soft',
    id: '4323372036854775001',
  },
  'bounce-transient': {
    type: 'email.deferred',
    timeField: 'BouncedAt',
    recipient: 'john@example.com',
    id: '4323372036854775002',
  },
  'bounce-blocked': {
    type: 'email.bounced',
    timeField: 'BouncedAt',
    recipient: 'john@example.com',
    bounce: 'soft',
    id: '4323372036854775003',
  },
  'bounce-bad-email-address': {
    type: 'email.dropped',
    timeField: 'BouncedAt',
    recipient: 'john@example',
    bounce: 'hard',
    id: '4323372036854775004',
  },
  'bounce-manually-deactivated': {
    type: 'email.dropped',
    timeField: 'BouncedAt',
    recipient: 'john@example.com',
    bounce: 'undetermined',
    id: '4323372036854775005',
  },
  'bounce-template-rendering-failed': {
    type: 'email.failed',
    timeField: 'BouncedAt',
    recipient: 'john@example.com',
    id: '4323372036854775006',
  },
  'spam-complaint': {
    type: 'email.complained',
    timeField: 'BouncedAt',
    recipient: 'john@example.com',
    id: '42',
  },
  open: { type: 'email.opened', timeField: 'ReceivedAt', recipient: 'john@example.com' },
  click: { type: 'email.clicked', timeField: 'ReceivedAt', recipient: 'john@example.com' },
  'subscription-change-unsubscribe': {
    type: 'email.unsubscribed',
    timeField: 'ChangedAt',
    recipient: 'bounced-address@wildbit.com',
  },
  'subscription-change-resubscribe': {
    type: 'email.resubscribed',
    timeField: 'ChangedAt',
    recipient: 'john@example.com',
  },
};

describe('Postmark parsing of every documented record type', () => {
  it('has a fixture for every expectation and an expectation for every fixture', () => {
    const files = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace('.json', ''));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    it(`maps the ${name} fixture to ${want.type} with its identity fields`, () => {
      const original = fixture(name);
      const event = parseOne(fixtureText(name));
      expect(event.type).toBe(want.type);
      expect(event.data.recipient).toBe(want.recipient);
      expect(event.data.message_id).toBe(original.MessageID);
      expect(event.timestamp.toISOString()).toBe(
        parseIsoInstant(String(original[want.timeField]))?.toISOString(),
      );
      expect(event.data.bounce?.type).toBe(want.bounce);
      expect(event.data.provider_event_id).toBe(want.id ?? null);
      if (want.id) expect(event.dedupKey).toBe(`${String(original.RecordType)}:${want.id}`);
      else expect(event.dedupKey).toMatch(new RegExp(`^${String(original.RecordType)}:sha256:[0-9a-f]{64}$`));
      expect(event.data.raw).toEqual(original);
      expect(event.data.tags).toEqual([original.Tag]);
      expect(event.data.metadata).toEqual(original.Metadata);
    });
  }

  it('keeps the documented bounce ID 4323372036854775807 exact although it exceeds 2^53', () => {
    expect(fixtureText('bounce-hard')).toContain('"ID": 4323372036854775807,');
    const event = parseOne(fixtureText('bounce-hard'));
    expect(event.dedupKey).toBe('Bounce:4323372036854775807');
    expect(event.data.provider_event_id).toBe('4323372036854775807');
  });

  it('gives bounces their SMTP status code and response line', () => {
    expect(parseOne(fixtureText('bounce-soft')).data.bounce).toEqual({
      type: 'soft',
      code: '4.2.2',
      reason: 'smtp;452 4.2.2 The email account that you tried to reach is over quota.',
    });
    expect(parseOne(fixtureText('bounce-hard')).data.bounce).toEqual({
      type: 'hard',
      code: null,
      reason: 'Test bounce details',
    });
    const bare = {
      ...fixture('bounce-hard'),
      Details: 'smtp;550 Requested action not taken: mailbox unavailable',
    };
    expect(parseOne(bare).data.bounce?.code).toBe('550');
  });

  it('carries the clicked link, the reader IP and user agent, and flags no open as machine-made', () => {
    const click = parseOne(fixtureText('click'));
    expect(click.data.click).toEqual({ url: 'https://example.com' });
    expect(click.data.ip).toBe('8.8.8.8');
    expect(click.data.user_agent).toContain('Chrome/35.0.1916.153');
    const open = parseOne(fixtureText('open'));
    expect(open.data.open).toEqual({ machine: false });
    expect(open.data.ip).toBe('188.2.95.4');
  });

  it('scopes subscription changes to their message stream', () => {
    expect(parseOne(fixtureText('subscription-change-unsubscribe')).data.unsubscribe).toEqual({
      group: 'outbound',
    });
    expect(parseOne(fixtureText('subscription-change-resubscribe')).data.unsubscribe).toEqual({
      group: 'broadcast',
    });
  });

  it('reads the MessageId spelling of the official SDK type and leaves tags empty without a Tag', () => {
    const { MessageID, Tag, ...rest } = fixture('delivery');
    const event = parseOne({ ...rest, MessageId: MessageID });
    expect(event.data.message_id).toBe('883953f4-6105-42a2-a16a-77a8eac79483');
    expect(event.data.tags).toEqual([]);
    expect(Tag).toBe('welcome-email');
  });
});

/** Every bounce type of the Bounce API reference, and what mailhook makes of it. */
const BOUNCE_TYPE_OUTCOMES: Record<string, [string, string | undefined] | 'skipped'> = {
  HardBounce: ['email.bounced', 'hard'],
  Transient: ['email.deferred', undefined],
  Unsubscribe: ['email.unsubscribed', undefined],
  Subscribe: 'skipped',
  AutoResponder: ['email.bounced', 'soft'],
  AddressChange: ['email.bounced', 'undetermined'],
  DnsError: ['email.bounced', 'soft'],
  SpamNotification: ['email.bounced', 'soft'],
  OpenRelayTest: ['email.bounced', 'undetermined'],
  Unknown: ['email.bounced', 'undetermined'],
  SoftBounce: ['email.bounced', 'soft'],
  VirusNotification: ['email.bounced', 'soft'],
  ChallengeVerification: ['email.bounced', 'soft'],
  BadEmailAddress: ['email.dropped', 'hard'],
  SpamComplaint: ['email.complained', undefined],
  ManuallyDeactivated: ['email.dropped', 'undetermined'],
  Unconfirmed: ['email.dropped', 'undetermined'],
  Blocked: ['email.bounced', 'soft'],
  SMTPApiError: ['email.dropped', 'undetermined'],
  InboundError: 'skipped',
  DMARCPolicy: ['email.bounced', 'soft'],
  TemplateRenderingFailed: ['email.failed', undefined],
};

describe('Postmark bounce type classification', () => {
  it('covers every bounce type of the official enum', () => {
    expect(Object.keys(POSTMARK_BOUNCE_TYPES).sort()).toEqual(Object.keys(BOUNCE_TYPE_OUTCOMES).sort());
  });

  for (const [type, outcome] of Object.entries(BOUNCE_TYPE_OUTCOMES)) {
    it(`classifies a ${type} bounce record as ${outcome === 'skipped' ? 'skipped' : outcome.join(' ')}`, () => {
      const entry = POSTMARK_BOUNCE_TYPES[type]!;
      const record = { ...fixture('bounce-hard'), Type: type, TypeCode: entry.code };
      const result = postmark.parse(rawRequest(JSON.stringify(record)));
      if (outcome === 'skipped') {
        expect(result.events).toEqual([]);
        expect(result.skipped).toEqual([{ index: 0, reason: expect.stringContaining(type) }]);
        return;
      }
      expect(result.events[0]?.type).toBe(outcome[0]);
      expect(result.events[0]?.data.bounce?.type).toBe(outcome[1]);
    });
  }

  it('falls back to TypeCode when Type is missing and to undetermined for a type Postmark adds later', () => {
    const withCode: Record<string, unknown> = { ...fixture('bounce-hard'), TypeCode: 4096 };
    const { Type: _type, ...noType } = withCode;
    expect(parseOne(noType).data.bounce?.type).toBe('soft');
    const novel = parseOne({ ...fixture('bounce-hard'), Type: 'BrandNewType', TypeCode: 123456 });
    expect(novel.type).toBe('email.bounced');
    expect(novel.data.bounce?.type).toBe('undetermined');
  });

  it('treats a spam complaint posted as a Bounce record as a complaint', () => {
    const record = { ...fixture('bounce-hard'), Type: 'SpamComplaint', TypeCode: 100001 };
    expect(parseOne(record).type).toBe('email.complained');
  });
});

describe('Postmark dedup keys for records without an id', () => {
  it('gives a resent record the same key', () => {
    expect(parseOne(fixtureText('open')).dedupKey).toBe(parseOne(fixtureText('open')).dedupKey);
  });

  it('keeps two opens of one message by one recipient apart by their own timestamps', () => {
    const first = parseOne(fixture('open'));
    const second = parseOne({
      ...fixture('open'),
      ReceivedAt: '2019-11-05T16:33:54.9070260Z',
      FirstOpen: false,
    });
    expect(second.dedupKey).not.toBe(first.dedupKey);
  });

  it('keeps clicks on two links at the same instant apart, and bounds the key length for long links', () => {
    const a = parseOne(fixture('click'));
    const b = parseOne({ ...fixture('click'), OriginalLink: `https://example.com/${'x'.repeat(5000)}` });
    expect(b.dedupKey).not.toBe(a.dedupKey);
    expect(b.dedupKey.length).toBeLessThan(100);
  });

  it('does not let a resubscribe collide with the unsubscribe it undoes', () => {
    const unsub = fixture('subscription-change-unsubscribe');
    const resub = { ...unsub, SuppressSending: false, SuppressionReason: null };
    expect(parseOne(resub).dedupKey).not.toBe(parseOne(unsub).dedupKey);
  });

  it('keys deliveries by message, recipient and time, whatever the address case', () => {
    const lower = parseOne(fixture('delivery'));
    const upper = parseOne({ ...fixture('delivery'), Recipient: 'John@Example.COM' });
    expect(upper.dedupKey).toBe(lower.dedupKey);
    const other = parseOne({ ...fixture('delivery'), Recipient: 'jane@example.com' });
    expect(other.dedupKey).not.toBe(lower.dedupKey);
  });
});

describe('Postmark records that are not outbound email events', () => {
  it('skips an inbound message webhook and a record type it does not know, with reasons', () => {
    const inbound = { FromFull: { Email: 'a@example.net', Name: '' }, Subject: 'hi', MessageID: 'x' };
    expect(postmark.parse(rawRequest(JSON.stringify(inbound)))).toEqual({
      events: [],
      skipped: [{ index: 0, reason: expect.stringContaining('inbound') }],
    });
    const future = { RecordType: 'Engagement', MessageID: 'x', Recipient: 'a@example.com' };
    expect(postmark.parse(rawRequest(JSON.stringify(future))).skipped).toEqual([
      { index: 0, reason: expect.stringContaining('"Engagement"') },
    ]);
  });

  it('throws a malformed-payload error for broken JSON and records missing what identifies them', () => {
    expect(() => postmark.parse(rawRequest('{"RecordType":'))).toThrow(MalformedPayloadError);
    expect(() => postmark.parse(rawRequest('42'))).toThrow(/not a JSON object/);
    const { Recipient: _r, ...noRecipient } = fixture('delivery');
    expect(() => parseOne(noRecipient)).toThrow(/recipient/);
    expect(() => parseOne({ ...fixture('delivery'), DeliveredAt: 'yesterday' })).toThrow(/DeliveredAt/);
    const { SuppressSending: _s, ...noFlag } = fixture('subscription-change-unsubscribe');
    expect(() => parseOne(noFlag)).toThrow(/SuppressSending/);
  });
});

describe('Postmark setup text', () => {
  it('names the dashboard steps and never prints the password or header value', () => {
    const source = sourceWith({ basic_auth: { username: USER, password: PASSWORD }, header: HEADER });
    const text = postmark.setup(source, 'https://hooks.example.com/ingest/src_test');
    expect(text).toContain('Webhooks');
    expect(text).toContain('postmark-hooks');
    expect(text).toContain('x-mailhook-secret');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(HEADER.value);
  });
});
