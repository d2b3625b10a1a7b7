import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { elasticemail } from '../../../src/providers/elasticemail.js';
import { parseEventDate } from '../../../src/providers/elasticemail-fields.js';
import type { RawRequest, Source } from '../../../src/providers/types.js';
import { adapterSource } from '../../helpers/adapter-request.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/elasticemail');
const TOKEN = 'q7Yx2mN9pL4vR8sT1wZ3';

function sourceWith(config: Record<string, unknown>): Source {
  return adapterSource(elasticemail, config);
}

function get(query: string, headers: Record<string, string> = {}): RawRequest {
  return {
    method: 'GET',
    path: '/ingest/src_test',
    query,
    headers,
    body: Buffer.alloc(0),
    receivedAt: new Date('2026-04-01T00:00:00Z'),
  };
}

function fixture(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.query`), 'utf8').trim();
}

function withToken(query: string, token = TOKEN): string {
  return `mh_token=${token}&${query}`;
}

function parseFixture(name: string) {
  const query = fixture(name);
  return {
    fields: Object.fromEntries(new URLSearchParams(query)),
    ...elasticemail.parse(get(withToken(query))),
  };
}

describe('Elastic Email credentials', () => {
  const source = sourceWith({ query_token: TOKEN });
  const query = fixture('sent');

  it('accepts the notification when the URL carries the configured token', () => {
    expect(elasticemail.verify(get(withToken(query)), source)).toEqual({ ok: true });
  });

  it('refuses a missing, wrong, truncated or repeated token without revealing it', () => {
    const attempts = [
      get(query),
      get(withToken(query, 'q7Yx2mN9pL4vR8sT1wZ4')),
      get(withToken(query, TOKEN.slice(0, -1))),
      get(`${withToken(query)}&mh_token=anything-else-12345`),
    ];
    for (const req of attempts) {
      const result = elasticemail.verify(req, source);
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain(TOKEN);
    }
  });

  it('checks basic auth and the token together when both are configured', () => {
    const both = sourceWith({
      query_token: TOKEN,
      basic_auth: { username: 'ee', password: 'correct-horse-battery' },
    });
    const auth = { authorization: `Basic ${Buffer.from('ee:correct-horse-battery').toString('base64')}` };
    expect(elasticemail.verify(get(withToken(query), auth), both).ok).toBe(true);
    expect(elasticemail.verify(get(withToken(query)), both).ok).toBe(false);
    expect(elasticemail.verify(get(query, auth), both).ok).toBe(false);
  });

  it('refuses every request for a source whose config holds no credential', () => {
    const bare: Source = { ...source, config: {} };
    expect(elasticemail.verify(get(withToken(query)), bare).ok).toBe(false);
  });

  it('refuses a config without credentials or with a short or URL-unsafe token', () => {
    expect(() => elasticemail.validateConfig({})).toThrow(/query_token/);
    expect(() => elasticemail.validateConfig({ query_token: 'short' })).toThrow(/query_token/);
    expect(() => elasticemail.validateConfig({ query_token: 'has spaces and &= 1234567' })).toThrow(
      /URL-safe/,
    );
    expect(() => elasticemail.validateConfig({ header: { name: 'x-secret', value: 'short' } })).toThrow(
      /16 characters/,
    );
    expect(elasticemail.validateConfig({ query_token: TOKEN })).toEqual({ query_token: TOKEN });
  });

  it('declares that it takes GET notifications and shows the token placeholder in its setup', () => {
    expect(elasticemail.acceptsGet).toBe(true);
    const text = elasticemail.setup(source, 'https://hooks.example.com/ingest/src_1');
    expect(text).toContain('https://hooks.example.com/ingest/src_1?mh_token=<query_token>');
    expect(text).not.toContain(TOKEN);
  });
});

describe('Elastic Email parsing of every documented status', () => {
  const expectations: Array<[string, string, string | null]> = [
    ['sent', 'email.delivered', null],
    ['opened', 'email.opened', null],
    ['clicked', 'email.clicked', null],
    ['unsubscribed', 'email.unsubscribed', null],
    ['abusereport', 'email.complained', null],
    ['error-nomailbox', 'email.bounced', 'hard'],
    ['error-greylisted', 'email.bounced', 'soft'],
    ['error-connectionterminated', 'email.bounced', 'undetermined'],
    ['error-notdelivered', 'email.dropped', 'undetermined'],
    ['error-codeerror', 'email.failed', null],
  ];

  it('has a fixture for every mapped status and category class', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.query'));
    expect(files.map((f) => f.replace('.query', '')).sort()).toEqual(expectations.map(([n]) => n).sort());
  });

  for (const [name, type, bounce] of expectations) {
    it(`maps the ${name} fixture to ${type}${bounce ? ` (${bounce})` : ''} with its identity fields`, () => {
      const { fields, events, skipped } = parseFixture(name);
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.type).toBe(type);
      expect(event?.data.recipient).toBe('ada.lovelace@example.com');
      expect(event?.data.message_id).toBe('GruPGipsdsy31TIhv3CArg2');
      expect(event?.data.provider_event_id).toBeNull();
      expect(event?.dedupKey).toMatch(/^elasticemail:[0-9a-f]{64}$/);
      expect(event?.data.tags).toEqual(['Invoices']);
      expect(event?.data.metadata).toEqual({ postback: 'invoice-2026-03-0042' });
      expect(event?.data.raw).toEqual(fields);
      expect(event?.data.raw).not.toHaveProperty('mh_token');
      expect(event?.data.bounce?.type ?? null).toBe(bounce);
      if (bounce) expect(event?.data.bounce?.reason).toBe(fields.category);
    });
  }

  it('reads the event date as UTC', () => {
    expect(parseFixture('sent').events[0]?.timestamp.toISOString()).toBe('2026-03-24T08:23:19.000Z');
    expect(parseFixture('error-connectionterminated').events[0]?.timestamp.toISOString()).toBe(
      '2026-03-24T20:24:02.000Z',
    );
  });

  it('carries the clicked link, flags opens as not machine opens and unsubscribes as global', () => {
    expect(parseFixture('clicked').events[0]?.data.click).toEqual({
      url: 'https://awesomeapp.com/invoices/2026-03?utm_source=email',
    });
    expect(parseFixture('opened').events[0]?.data.open).toEqual({ machine: false });
    expect(parseFixture('unsubscribed').events[0]?.data.unsubscribe).toEqual({ group: null });
  });

  it('gives every notification its own dedup key and a resend the same one', () => {
    const keys = expectations.map(([name]) => parseFixture(name).events[0]?.dedupKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(parseFixture('sent').events[0]?.dedupKey).toBe(parseFixture('sent').events[0]?.dedupKey);
    const otherLink = fixture('clicked').replace('utm_source%3Demail', 'utm_source%3Dfooter');
    expect(elasticemail.parse(get(otherLink)).events[0]?.dedupKey).not.toBe(
      parseFixture('clicked').events[0]?.dedupKey,
    );
  });

  it('maps every documented Error category, and an unknown one to an undetermined bounce', () => {
    const outcome = (category: string) => {
      const query = fixture('error-nomailbox').replace('category=NoMailbox', `category=${category}`);
      const [event] = elasticemail.parse(get(query)).events;
      return event?.type === 'email.bounced' ? `bounced:${event.data.bounce?.type}` : event?.type;
    };
    const soft = ['Spam', 'BlackListed', 'GreyListed', 'Throttled', 'Timeout', 'ConnectionProblem'];
    for (const c of [...soft, 'SPFProblem', 'WhitelistingProblem', 'ContentFilter']) {
      expect(outcome(c), c).toBe('bounced:soft');
    }
    for (const c of ['AccountProblem', 'DNSProblem', 'ConnectionTerminated', 'Unknown', 'SomethingNew']) {
      expect(outcome(c), c).toBe('bounced:undetermined');
    }
    for (const c of ['Ignore', 'NotDelivered', 'NotDeliveredCancelled', 'ManualCancel']) {
      expect(outcome(c), c).toBe('email.dropped');
    }
    expect(outcome('NoMailbox')).toBe('bounced:hard');
    expect(outcome('CodeError')).toBe('email.failed');
  });

  it("keeps the user's own notification-URL parameters as metadata and prefers messageid over transaction", () => {
    const query = `${fixture('sent').replace(/&?messageid=[^&]*/, '')}&env=prod`;
    const [event] = elasticemail.parse(get(withToken(query))).events;
    expect(event?.data.metadata).toEqual({ postback: 'invoice-2026-03-0042', env: 'prod' });
    expect(event?.data.message_id).toBe('d3d9d5b6-6a4e-4b7e-9f8a-2a1c4e6f8b10');
  });

  it('reads the same fields from a form-encoded or JSON POST body', () => {
    const query = fixture('sent');
    const post = (body: string, type: string): RawRequest => ({
      ...get(`mh_token=${TOKEN}`),
      method: 'POST',
      headers: { 'content-type': type },
      body: Buffer.from(body),
    });
    const expected = parseFixture('sent').events[0]?.dedupKey;
    const form = elasticemail.parse(post(query, 'application/x-www-form-urlencoded'));
    expect(form.events[0]?.dedupKey).toBe(expected);
    const json = JSON.stringify(Object.fromEntries(new URLSearchParams(query)));
    expect(elasticemail.parse(post(json, 'application/json')).events[0]?.dedupKey).toBe(expected);
    expect(() => elasticemail.parse(post('{"status":', 'application/json'))).toThrow(MalformedPayloadError);
  });

  it('skips the URL check Elastic Email makes without a status, and unknown statuses', () => {
    expect(elasticemail.parse(get(`mh_token=${TOKEN}`)).skipped[0]?.reason).toMatch(/without a status/);
    const unknown = elasticemail.parse(get(fixture('sent').replace('status=Sent', 'status=Success')));
    expect(unknown.events).toEqual([]);
    expect(unknown.skipped[0]?.reason).toMatch(/Success/);
  });

  it('quarantines a notification whose date cannot be read', () => {
    const query = fixture('sent').replace(/date=[^&]*/, 'date=last+Tuesday');
    expect(() => elasticemail.parse(get(query))).toThrow(/"date"/);
  });
});

describe('Elastic Email date reading', () => {
  it('reads US 12-hour, ISO 8601 and Unix forms as UTC', () => {
    const iso = (text: string) => parseEventDate(text)?.toISOString() ?? null;
    expect(iso('6/14/2024 4:05:09 PM')).toBe('2024-06-14T16:05:09.000Z');
    expect(iso('6/14/2024 12:05:09 AM')).toBe('2024-06-14T00:05:09.000Z');
    expect(iso('06/14/2024 16:05:09')).toBe('2024-06-14T16:05:09.000Z');
    expect(iso('14/06/2024 16:05:09')).toBe('2024-06-14T16:05:09.000Z');
    expect(iso('2024-06-14T16:05:09.25')).toBe('2024-06-14T16:05:09.250Z');
    expect(iso('2024-06-14 18:05:09+02:00')).toBe('2024-06-14T16:05:09.000Z');
    expect(iso('1718381109')).toBe('2024-06-14T16:05:09.000Z');
  });

  it('refuses impossible dates instead of rolling them over', () => {
    for (const bad of ['2/30/2024 1:00:00 PM', '13/13/2024 1:00:00', '6/14/2024 13:00:00 PM', '']) {
      expect(parseEventDate(bad), bad).toBeNull();
    }
  });
});
