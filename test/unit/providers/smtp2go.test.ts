import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { smtp2go } from '../../../src/providers/smtp2go.js';
import type { RawRequest, Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/smtp2go');
const BASIC = { username: 'smtp2go', password: 'correct-horse-battery' };
const BEARER = { name: 'Authorization', value: 'Bearer 9f1c2e7a4b8d4e0f' };

function sourceWith(config: Record<string, unknown>): Source {
  return adapterSource(smtp2go, config);
}

function request(body: string, headers: Record<string, string> = {}): RawRequest {
  return rawRequest(body, { 'content-type': 'application/json', ...headers });
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

function parseFixture(name: string) {
  const event = fixture(name);
  return { event, ...smtp2go.parse(request(JSON.stringify(event))) };
}

describe('SMTP2GO credentials', () => {
  const body = JSON.stringify(fixture('delivered'));

  it('accepts the configured basic-auth credentials and refuses wrong or missing ones', () => {
    const source = sourceWith({ basic_auth: BASIC });
    const good = request(body, { authorization: basicHeader(BASIC.username, BASIC.password) });
    expect(smtp2go.verify(good, source)).toEqual({ ok: true });
    const wrong = request(body, { authorization: basicHeader(BASIC.username, 'wrong-password-123') });
    expect(smtp2go.verify(wrong, source).ok).toBe(false);
    expect(smtp2go.verify(request(body), source)).toEqual({
      ok: false,
      reason: 'missing basic auth credentials',
    });
  });

  it('accepts a bearer token sent in the Authorization header SMTP2GO lets the user set', () => {
    const source = sourceWith({ header: BEARER });
    expect(smtp2go.verify(request(body, { authorization: BEARER.value }), source).ok).toBe(true);
    expect(smtp2go.verify(request(body, { authorization: 'Bearer guessed-token-0000' }), source).ok).toBe(
      false,
    );
  });

  it('never puts the secret into a refusal reason', () => {
    const source = sourceWith({ header: BEARER });
    const result = smtp2go.verify(request(body, { authorization: 'Bearer nope-nope-nope-nope' }), source);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain(BEARER.value);
  });

  it('refuses a config without credentials, with a short password or a bad header name', () => {
    expect(() => smtp2go.validateConfig({})).toThrow(/basic_auth/);
    expect(() => smtp2go.validateConfig({ basic_auth: { username: 'u', password: 'short' } })).toThrow(
      /12 characters/,
    );
    expect(() => smtp2go.validateConfig({ header: { name: 'bad header', value: 'x'.repeat(20) } })).toThrow(
      /header name/,
    );
  });
});

describe('SMTP2GO parsing of every documented event', () => {
  const single: Array<[string, string]> = [
    ['delivered', 'email.delivered'],
    ['open', 'email.opened'],
    ['click', 'email.clicked'],
    ['bounce-hard', 'email.bounced'],
    ['bounce-soft', 'email.bounced'],
    ['spam', 'email.complained'],
    ['unsubscribe', 'email.unsubscribed'],
    ['resubscribe', 'email.resubscribed'],
    ['reject', 'email.dropped'],
  ];

  it('has a fixture for every documented event', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(files.map((f) => f.replace('.json', '')).sort()).toEqual(
      ['processed', ...single.map(([name]) => name)].sort(),
    );
  });

  for (const [name, type] of single) {
    it(`maps the ${name} fixture to ${type} with its identity fields`, () => {
      const { event: original, events, skipped } = parseFixture(name);
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.type).toBe(type);
      expect(event?.data.recipient).toBe(String(original.rcpt).toLowerCase());
      expect(event?.data.message_id).toBe('1w4x2g-FnQW0hPru7M-NRRC');
      expect(event?.data.provider_event_id).toBe(original.id);
      expect(event?.timestamp.toISOString()).toBe(String(original.time).replace('Z', '.000Z'));
      expect(event?.dedupKey).toMatch(/^smtp2go:[0-9a-f]{64}$/);
      expect(event?.data.metadata).toEqual({ 'X-Tenant-Id': 'acme-eu' });
      expect(event?.data.tags).toEqual([]);
      expect(event?.data.raw).toEqual(original);
    });
  }

  it('splits a processed event into one email.sent per listed recipient', () => {
    const { events } = parseFixture('processed');
    expect(events.map((e) => [e.type, e.data.recipient])).toEqual([
      ['email.sent', 'ada.lovelace@example.com'],
      ['email.sent', 'grace@example.org'],
    ]);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(2);
    expect(events[0]?.data.ip).toBeNull();
  });

  it('reads the form-encoded output type, with repeated recipients, the same as JSON', () => {
    const form = readFileSync(join(FIXTURES, 'processed.form'), 'utf8');
    const fromForm = smtp2go.parse(request(form, { 'content-type': 'application/x-www-form-urlencoded' }));
    const fromJson = parseFixture('processed');
    expect(fromForm.events.map((e) => e.dedupKey)).toEqual(fromJson.events.map((e) => e.dedupKey));
    expect(fromForm.events.map((e) => e.data.recipient)).toEqual([
      'ada.lovelace@example.com',
      'grace@example.org',
    ]);
    expect(fromForm.events[0]?.data.metadata).toEqual({ 'X-Tenant-Id': 'acme-eu' });
  });

  it('classifies bounces by the bounce field, with the SMTP code and message', () => {
    expect(parseFixture('bounce-hard').events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: expect.stringContaining('User unknown'),
    });
    expect(parseFixture('bounce-soft').events[0]?.data.bounce).toEqual({
      type: 'soft',
      code: '4.2.2',
      reason: '452 4.2.2 Mailbox full',
    });
    const { event } = parseFixture('bounce-hard');
    const unclassified = smtp2go.parse(request(JSON.stringify({ ...event, bounce: undefined })));
    expect(unclassified.events[0]?.data.bounce?.type).toBe('undetermined');
  });

  it('reports a reject as a drop with its reason', () => {
    expect(parseFixture('reject').events[0]?.data.bounce).toEqual({
      type: 'undetermined',
      code: null,
      reason: 'Recipient previously hard bounced; delivery not attempted',
    });
  });

  it('carries the URL, user agent and IP of engagement events', () => {
    const [click] = parseFixture('click').events;
    expect(click?.data.click).toEqual({ url: 'https://awesomeapp.com/invoices/2026-03' });
    expect(click?.data.ip).toBe('192.0.2.10');
    expect(click?.data.user_agent).toMatch(/Chrome/);
    expect(parseFixture('open').events[0]?.data.open).toEqual({ machine: false });
    expect(parseFixture('unsubscribe').events[0]?.data.unsubscribe).toEqual({ group: null });
  });

  it('gives a resent notification the same dedup key and different events different keys', () => {
    const keys = single.map(([name]) => parseFixture(name).events[0]?.dedupKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(parseFixture('open').events[0]?.dedupKey).toBe(parseFixture('open').events[0]?.dedupKey);
    const { event } = parseFixture('open');
    const alias = smtp2go.parse(request(JSON.stringify({ ...event, event: 'opened' })));
    expect(alias.events[0]?.dedupKey).toBe(parseFixture('open').events[0]?.dedupKey);
  });

  it('reads Unix-second, offset and zone-less times', () => {
    const { event } = parseFixture('delivered');
    const at = (time: unknown) =>
      smtp2go.parse(request(JSON.stringify({ ...event, time }))).events[0]?.timestamp.toISOString();
    expect(at(1774340599)).toBe('2026-03-24T08:23:19.000Z');
    expect(at('2026-03-24T10:23:19.5+02:00')).toBe('2026-03-24T08:23:19.500Z');
    expect(at('2026-03-24 08:23:19')).toBe('2026-03-24T08:23:19.000Z');
  });

  it('splits a JSON array and skips SMS and unknown events with a reason', () => {
    const body = JSON.stringify([fixture('delivered'), { event: 'sms_delivered', time: 1 }, { foo: 1 }]);
    const result = smtp2go.parse(request(body));
    expect(result.events).toHaveLength(1);
    expect(result.skipped).toEqual([
      { index: 1, reason: expect.stringContaining('sms_delivered') },
      { index: 2, reason: expect.stringContaining('"event"') },
    ]);
  });

  it('throws a malformed-payload error for invalid JSON, non-objects and missing times', () => {
    expect(() => smtp2go.parse(request('{"event":'))).toThrow(MalformedPayloadError);
    expect(() => smtp2go.parse(request('[42]'))).toThrow(/not an object/);
    expect(() => smtp2go.parse(request('{"event":"delivered","rcpt":"a@b.c"}'))).toThrow(/time/);
    expect(() => smtp2go.parse(request('{"event":"delivered","time":"soon"}'))).toThrow(/time/);
  });
});

describe('SMTP2GO setup text', () => {
  it('shows the ingest URL with the basic-auth username and never the password', () => {
    const text = smtp2go.setup(sourceWith({ basic_auth: BASIC }), 'https://hooks.example.com/ingest/src_1');
    expect(text).toContain('https://smtp2go:<password>@hooks.example.com/ingest/src_1');
    expect(text).not.toContain(BASIC.password);
  });
});
