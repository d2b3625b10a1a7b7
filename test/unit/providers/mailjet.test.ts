import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailhookError, MalformedPayloadError } from '../../../src/errors.js';
import { parseJsonLossless } from '../../../src/providers/json.js';
import { mailjet } from '../../../src/providers/mailjet.js';
import type { RawRequest, Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/mailjet');
const PASSWORD = 'correct-horse-battery';

function sourceWith(config: unknown): Source {
  return adapterSource(mailjet, config);
}

function request(body: string, headers: Record<string, string> = {}): RawRequest {
  return rawRequest(body, { 'content-type': 'application/json', ...headers });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** The fixture's exact text: re-serialising it through JSON.parse would corrupt the 64-bit ids. */
function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function parseFixture(name: string) {
  const text = fixtureText(name);
  return { original: parseJsonLossless(text) as Record<string, unknown>, ...mailjet.parse(request(text)) };
}

describe('Mailjet source configuration', () => {
  it('accepts basic auth credentials and a secret header', () => {
    expect(sourceWith({ basic_auth: { username: 'mailjet', password: PASSWORD } }).config).toEqual({
      basic_auth: { username: 'mailjet', password: PASSWORD },
    });
    expect(
      sourceWith({ header: { name: 'X-Hook-Secret', value: 'a-very-long-secret-value' } }).config,
    ).toEqual({
      header: { name: 'x-hook-secret', value: 'a-very-long-secret-value' },
    });
  });

  it('refuses a config without credentials, with a short password or with a malformed header', () => {
    for (const config of [
      {},
      null,
      { basic_auth: { username: 'mailjet' } },
      { basic_auth: { username: 'mailjet', password: 'short' } },
      { header: { name: 'bad header', value: 'a-very-long-secret-value' } },
    ]) {
      expect(() => mailjet.validateConfig(config)).toThrow(MailhookError);
    }
    expect(() => mailjet.validateConfig({})).toThrow(
      expect.objectContaining({ code: 'MH_ERR_INVALID_SOURCE_CONFIG' }),
    );
  });
});

describe('Mailjet verification by credentials', () => {
  const source = sourceWith({ basic_auth: { username: 'mailjet', password: PASSWORD } });
  const body = fixtureText('sent');

  it('accepts the configured basic auth credentials', () => {
    const req = request(body, { authorization: basic('mailjet', PASSWORD) });
    expect(mailjet.verify(req, source, verifyContext())).toEqual({ ok: true });
  });

  it('refuses a wrong password, a wrong user, no credentials and a bearer token', () => {
    const attempts: Record<string, string>[] = [
      { authorization: basic('mailjet', `${PASSWORD}x`) },
      { authorization: basic('other', PASSWORD) },
      {},
      { authorization: `Bearer ${PASSWORD}` },
      { authorization: 'Basic !!!not-base64' },
    ];
    for (const headers of attempts) {
      const result = mailjet.verify(request(body, headers), source, verifyContext());
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).not.toContain(PASSWORD);
    }
  });

  it('requires both the basic auth and the secret header when both are configured', () => {
    const both = sourceWith({
      basic_auth: { username: 'mailjet', password: PASSWORD },
      header: { name: 'x-hook-secret', value: 'a-very-long-secret-value' },
    });
    const auth = { authorization: basic('mailjet', PASSWORD) };
    expect(mailjet.verify(request(body, auth), both, verifyContext()).ok).toBe(false);
    const full = { ...auth, 'x-hook-secret': 'a-very-long-secret-value' };
    expect(mailjet.verify(request(body, full), both, verifyContext()).ok).toBe(true);
    const wrong = { ...auth, 'x-hook-secret': 'a-very-long-secret-valuf' };
    expect(mailjet.verify(request(body, wrong), both, verifyContext()).ok).toBe(false);
  });

  it('has no timestamp to check, so an old event posted late still verifies', () => {
    const req = request(body, { authorization: basic('mailjet', PASSWORD) });
    const late = verifyContext({ now: new Date('2030-01-01T00:00:00Z'), toleranceSec: 300 });
    expect(mailjet.verify(req, source, late).ok).toBe(true);
  });
});

const EXPECTED: Array<[string, string]> = [
  ['sent', 'email.delivered'],
  ['open', 'email.opened'],
  ['click', 'email.clicked'],
  ['bounce', 'email.bounced'],
  ['bounce-soft', 'email.bounced'],
  ['bounce-greylisted', 'email.deferred'],
  ['blocked', 'email.dropped'],
  ['spam', 'email.complained'],
  ['unsub', 'email.unsubscribed'],
];

describe('Mailjet parsing of every documented event type', () => {
  it('has a fixture for every mapped event type', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'grouped.json');
    expect(files.map((f) => f.replace('.json', '')).sort()).toEqual(EXPECTED.map(([name]) => name).sort());
  });

  for (const [name, type] of EXPECTED) {
    it(`maps the ${name} fixture to ${type} with its identity fields`, () => {
      const { original, events, skipped } = parseFixture(name);
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      const messageId = String(original.MessageID);
      expect(event?.type).toBe(type);
      expect(event?.data.message_id).toBe(messageId);
      expect(event?.data.provider_event_id).toBeNull();
      expect(event?.data.recipient).toBe(String(original.email).toLowerCase());
      expect(event?.timestamp.toISOString()).toBe(new Date(Number(original.time) * 1000).toISOString());
      const key = [original.event, messageId, String(original.email).toLowerCase(), String(original.time)];
      if (original.event === 'click') key.push(String(original.url));
      expect(event?.dedupKey).toBe(JSON.stringify(key));
      expect(event?.data.raw).toEqual(original);
    });
  }

  it('keeps the 17-digit MessageIDs of the documentation exactly', () => {
    expect(parseFixture('sent').events[0]?.data.message_id).toBe('19421777835146490');
    expect(parseFixture('bounce-soft').events[0]?.data.message_id).toBe('13792286917004337');
  });

  it('lower-cases the recipient', () => {
    expect(parseFixture('sent').events[0]?.data.recipient).toBe('api@example.com');
  });

  it('classifies a bounce with hard_bounce true as hard, with the error table and SMTP code', () => {
    expect(parseFixture('bounce').events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason:
        'recipient: user unknown (host mx.example.com said: 550 5.1.1 The email account that you tried to reach does not exist)',
    });
  });

  it('classifies a bounce with hard_bounce false as soft', () => {
    expect(parseFixture('bounce-soft').events[0]?.data.bounce).toEqual({
      type: 'soft',
      code: null,
      reason: 'recipient: quota exceeded',
    });
  });

  it('turns a non-permanent greylisting bounce into a deferral without bounce details', () => {
    const [event] = parseFixture('bounce-greylisted').events;
    expect(event?.type).toBe('email.deferred');
    expect(event?.data.bounce).toBeUndefined();
  });

  it('classifies a blocked (preblocked) address as a hard drop and a policy block as undetermined', () => {
    expect(parseFixture('blocked').events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: null,
      reason: 'mailjet: preblocked',
    });
    const policy = {
      ...(parseFixture('blocked').original as object),
      error_related_to: 'spam',
      error: 'policy issue',
    };
    const [event] = mailjet.parse(request(JSON.stringify(policy))).events;
    expect(event?.data.bounce?.type).toBe('undetermined');
  });

  it('falls back to the error table when hard_bounce is absent', () => {
    const original = parseFixture('bounce').original;
    const { hard_bounce: _, ...rest } = original;
    const text = fixtureText('bounce').replace('"hard_bounce": true,', '');
    expect(parseJsonLossless(text)).toEqual(rest);
    expect(mailjet.parse(request(text)).events[0]?.data.bounce?.type).toBe('hard');
  });

  it('reports the clicked URL, user agent and IP', () => {
    const [event] = parseFixture('click').events;
    expect(event?.data.click).toEqual({ url: 'https://mailjet.com' });
    expect(event?.data.user_agent).toContain('Mozilla/5.0');
    expect(event?.data.ip).toBe('192.0.2.10');
  });

  it('reports opens as not machine-generated, since Mailjet has no such flag', () => {
    expect(parseFixture('open').events[0]?.data.open).toEqual({ machine: false });
  });

  it('puts mj_list_id in the unsubscribe group, and no group for list 0', () => {
    expect(parseFixture('unsub').events[0]?.data.unsubscribe).toEqual({ group: '1' });
    const text = fixtureText('unsub').replace('"mj_list_id": 1', '"mj_list_id": 0');
    expect(mailjet.parse(request(text)).events[0]?.data.unsubscribe).toEqual({ group: null });
  });

  it('takes tags from customcampaign and metadata from the JSON Payload and CustomID', () => {
    const [sent] = parseFixture('sent').events;
    expect(sent?.data.tags).toEqual(['welcome-series']);
    expect(sent?.data.metadata).toEqual({ user_id: 'usr_48213', tenant: 'acme-eu', CustomID: 'helloworld' });
    const [open] = parseFixture('open').events;
    expect(open?.data.tags).toEqual([]);
    expect(open?.data.metadata).toEqual({ CustomID: 'helloworld' });
  });

  it('keeps a Payload that is not a JSON object as a string', () => {
    const text = fixtureText('open').replace('"Payload": ""', '"Payload": "order-42"');
    expect(mailjet.parse(request(text)).events[0]?.data.metadata).toEqual({
      Payload: 'order-42',
      CustomID: 'helloworld',
    });
  });
});

describe('Mailjet 64-bit message ids', () => {
  const id = '288230376151711747'; // 2^58 + 3: as a JS number it would read 288230376151711740
  const body = `{"event":"open","time":1433103519,"MessageID":${id},"email":"a@example.com","mj_contact_id":${id}}`;

  it('keeps a 2^58-sized MessageID exact in message_id, the dedup key and raw', () => {
    expect(Number(id).toString()).not.toBe(id);
    const [event] = mailjet.parse(request(body)).events;
    expect(event?.data.message_id).toBe(id);
    expect(event?.dedupKey).toBe(JSON.stringify(['open', id, 'a@example.com', '1433103519']));
    expect(event?.dedupKey).toContain(id);
    expect(event?.data.raw).toMatchObject({ MessageID: id, mj_contact_id: id });
  });
});

describe('Mailjet grouped events (Event API version 2)', () => {
  it('splits an array of mixed events into one canonical event each', () => {
    const { events, skipped } = mailjet.parse(request(fixtureText('grouped')));
    expect(skipped).toEqual([]);
    expect(events.map((e) => e.type)).toEqual([
      'email.delivered',
      'email.delivered',
      'email.opened',
      'email.clicked',
      'email.clicked',
    ]);
    // Grouped samples carry only mj_message_id; it is the same id MessageID would carry.
    expect(events.map((e) => e.data.message_id)).toEqual([
      '18858825588804172',
      '18858825588803684',
      '18858825588804172',
      '18858825588804172',
      '18858825588804172',
    ]);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(5);
  });

  it('gives the same dedup keys when the same body is posted again', () => {
    const first = mailjet.parse(request(fixtureText('grouped'))).events.map((e) => e.dedupKey);
    const again = mailjet.parse(request(fixtureText('grouped'))).events.map((e) => e.dedupKey);
    expect(again).toEqual(first);
  });

  it('accepts an empty group', () => {
    expect(mailjet.parse(request('[]'))).toEqual({ events: [], skipped: [] });
  });

  it('skips an event type mailhook does not map, and keeps the others', () => {
    const body = `[{"event":"typofix","time":1,"email":"a@example.com"},${fixtureText('open')}]`;
    const { events, skipped } = mailjet.parse(request(body));
    expect(events).toHaveLength(1);
    expect(skipped).toEqual([{ index: 0, reason: expect.stringContaining('typofix') }]);
  });
});

describe('Mailjet malformed bodies', () => {
  it('throws the quarantine error for bodies that cannot be understood', () => {
    for (const body of [
      '{"event":"sent"',
      '"sent"',
      '[1]',
      '{"time":1433333949,"email":"a@example.com"}',
      '{"event":"sent","email":"a@example.com"}',
      '{"event":"sent","time":"yesterday","email":"a@example.com"}',
    ]) {
      expect(() => mailjet.parse(request(body)), body).toThrow(MalformedPayloadError);
    }
  });
});

describe('Mailjet setup text', () => {
  it('shows the ingest URL with the basic auth user and hides the password', () => {
    const source = sourceWith({ basic_auth: { username: 'mailjet', password: PASSWORD } });
    const text = mailjet.setup(source, 'https://hooks.example.com/ingest/src_test');
    expect(text).toContain('https://mailjet:<password>@hooks.example.com/ingest/src_test');
    expect(text).not.toContain(PASSWORD);
  });
});
