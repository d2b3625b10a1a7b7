import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailhookError, MalformedPayloadError } from '../../../src/errors.js';
import { brevo } from '../../../src/providers/brevo.js';
import { brevoTimeOf, parisLocalToUtcMs } from '../../../src/providers/brevo-time.js';
import { parseJsonLossless } from '../../../src/providers/json.js';
import type { RawRequest, Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/brevo');
const PASSWORD = 'correct-horse-battery';
const TOKEN = 'brevo-bearer-token-0123456789';

function sourceWith(config: unknown): Source {
  return adapterSource(brevo, config);
}

function request(body: string, headers: Record<string, string> = {}): RawRequest {
  return rawRequest(body, { 'content-type': 'application/json', ...headers });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function parseFixture(name: string) {
  const text = fixtureText(name);
  return { original: parseJsonLossless(text) as Record<string, unknown>, ...brevo.parse(request(text)) };
}

function only(name: string) {
  const { events, skipped } = parseFixture(name);
  expect(skipped).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe('Brevo source configuration', () => {
  it('accepts basic auth, a bearer token as an Authorization header, and a custom header', () => {
    expect(sourceWith({ basic_auth: { username: 'brevo', password: PASSWORD } }).config).toEqual({
      basic_auth: { username: 'brevo', password: PASSWORD },
    });
    expect(sourceWith({ header: { name: 'Authorization', value: `Bearer ${TOKEN}` } }).config).toEqual({
      header: { name: 'authorization', value: `Bearer ${TOKEN}` },
    });
  });

  it('refuses a config without credentials with MH_ERR_INVALID_SOURCE_CONFIG', () => {
    expect(() => brevo.validateConfig({})).toThrow(MailhookError);
    expect(() => brevo.validateConfig({ header: { name: 'x-secret', value: 'short' } })).toThrow(/16/);
    expect(() => brevo.validateConfig({ basic_auth: { username: 'a:b', password: PASSWORD } })).toThrow(
      expect.objectContaining({ code: 'MH_ERR_INVALID_SOURCE_CONFIG' }),
    );
  });
});

describe('Brevo verification by credentials', () => {
  const body = fixtureText('delivered');

  it('accepts the basic auth Brevo derives from https://user:pass@… and refuses a wrong password', () => {
    const source = sourceWith({ basic_auth: { username: 'brevo', password: PASSWORD } });
    const good = request(body, { authorization: basic('brevo', PASSWORD) });
    expect(brevo.verify(good, source, verifyContext())).toEqual({ ok: true });
    const bad = request(body, { authorization: basic('brevo', 'correct-horse-battert') });
    expect(brevo.verify(bad, source, verifyContext()).ok).toBe(false);
    expect(brevo.verify(request(body), source, verifyContext()).ok).toBe(false);
  });

  it('accepts the bearer token Brevo sends for "auth": {"type": "bearer"} and refuses another', () => {
    const source = sourceWith({ header: { name: 'authorization', value: `Bearer ${TOKEN}` } });
    expect(
      brevo.verify(request(body, { authorization: `Bearer ${TOKEN}` }), source, verifyContext()).ok,
    ).toBe(true);
    const other = brevo.verify(request(body, { authorization: `Bearer ${TOKEN}x` }), source, verifyContext());
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.reason).not.toContain(TOKEN);
  });

  it('accepts a custom header from the webhook\'s "headers" list and refuses it missing', () => {
    const source = sourceWith({ header: { name: 'cf-secret', value: 'a-very-long-secret-value' } });
    const req = request(body, { 'cf-secret': 'a-very-long-secret-value' });
    expect(brevo.verify(req, source, verifyContext()).ok).toBe(true);
    expect(brevo.verify(request(body), source, verifyContext()).ok).toBe(false);
  });

  it('has no timestamp to check, so a retry 8 hours later still verifies', () => {
    const source = sourceWith({ basic_auth: { username: 'brevo', password: PASSWORD } });
    const req = request(body, { authorization: basic('brevo', PASSWORD) });
    expect(brevo.verify(req, source, verifyContext({ now: new Date('2030-01-01T00:00:00Z') })).ok).toBe(true);
  });
});

const EXPECTED: Array<[string, string]> = [
  ['request', 'email.sent'],
  ['delivered', 'email.delivered'],
  ['deferred', 'email.deferred'],
  ['soft_bounce', 'email.bounced'],
  ['hard_bounce', 'email.bounced'],
  ['blocked', 'email.dropped'],
  ['invalid_email', 'email.dropped'],
  ['spam', 'email.complained'],
  ['complaint', 'email.complained'],
  ['opened', 'email.opened'],
  ['unique_opened', 'email.opened'],
  ['proxy_open', 'email.opened'],
  ['unique_proxy_open', 'email.opened'],
  ['click', 'email.clicked'],
  ['unsubscribed', 'email.unsubscribed'],
  ['error', 'email.failed'],
];

/** Which clock each fixture's timestamp must come from (see brevo-time.ts). */
function expectedMs(original: Record<string, unknown>): number {
  const epoch = original.ts_epoch;
  if (typeof epoch === 'number') return epoch >= 1e11 ? epoch : epoch * 1000;
  return Number(original.ts_event) * 1000;
}

describe('Brevo parsing of every documented transactional email event', () => {
  it('has a fixture for every mapped event type', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'batch.json');
    expect(files.map((f) => f.replace('.json', '')).sort()).toEqual(EXPECTED.map(([name]) => name).sort());
  });

  for (const [name, type] of EXPECTED) {
    it(`maps the ${name} fixture to ${type} with its identity fields`, () => {
      const { original } = parseFixture(name);
      const event = only(name);
      const rawId = String(original['message-id']);
      const messageId = rawId.startsWith('<') ? rawId : `<${rawId}>`;
      const recipient = String(original.email).toLowerCase();
      const ms = expectedMs(original);
      expect(event.type).toBe(type);
      expect(event.data.message_id).toBe(messageId);
      expect(event.data.provider_event_id).toBeNull();
      expect(event.data.recipient).toBe(recipient);
      expect(event.timestamp.getTime()).toBe(ms);
      const key: unknown[] = [name, messageId, recipient, ms];
      if (name === 'click') key.push(original.link);
      expect(event.dedupKey).toBe(JSON.stringify(key));
      expect(event.data.raw).toEqual(original);
    });
  }

  it('wraps a bare message-id in angle brackets, as the send API returns it, and keeps a bracketed one', () => {
    expect(only('delivered').data.message_id).toBe('<201798300811.5787683@relay.domain.com>');
    expect(only('unique_proxy_open').data.message_id).toBe(
      '<202408221603.2705147202202651768@smtp-relay.mailin.fr>',
    );
  });

  it('classifies hard and soft bounces with the SMTP code found in the reason', () => {
    expect(only('hard_bounce').data.bounce).toEqual({
      type: 'hard',
      code: '5.5.0',
      reason: 'RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable.',
    });
    expect(only('soft_bounce').data.bounce).toEqual({
      type: 'soft',
      code: null,
      reason: 'undefined Unable to find MX of domain no-mx.example.com',
    });
  });

  it('marks invalid_email as a hard drop and blocked as an undetermined drop', () => {
    expect(only('invalid_email').data.bounce).toEqual({ type: 'hard', code: null, reason: null });
    expect(only('blocked').data.bounce).toEqual({
      type: 'undetermined',
      code: null,
      reason: 'blocked : due to blacklist user',
    });
  });

  it('gives no bounce details to deferrals and failures', () => {
    expect(only('deferred').data.bounce).toBeUndefined();
    expect(only('error').data.bounce).toBeUndefined();
  });

  it('flags proxy opens as machine opens and the others as human', () => {
    expect(only('proxy_open').data.open).toEqual({ machine: true });
    expect(only('unique_proxy_open').data.open).toEqual({ machine: true });
    expect(only('opened').data.open).toEqual({ machine: false });
    expect(only('unique_opened').data.open).toEqual({ machine: false });
  });

  it("reports the clicked link and the user agent, but not the sending IP as the reader's", () => {
    const click = only('click');
    expect(click.data.click).toEqual({ url: 'https://domain.com/product' });
    expect(click.data.user_agent).toContain('Safari');
    expect(click.data.ip).toBeNull();
    expect(only('request').data.ip).toBe('203.0.113.17');
  });

  it('reads tags from tags, from a tag array and from a JSON-serialised tag string', () => {
    expect(only('request').data.tags).toEqual(['transac_messages']);
    expect(only('proxy_open').data.tags).toEqual(['transactionalTag']);
    expect(only('unsubscribed').data.tags).toEqual(['transactionalTag']);
    expect(only('unique_proxy_open').data.tags).toEqual(['this_tag', 'tag_thos']);
    const single = fixtureText('delivered').replace(
      '"tags": [\n    "transac_messages"\n  ]',
      '"tag": "header-tag"',
    );
    expect(brevo.parse(request(single)).events[0]?.data.tags).toEqual(['header-tag']);
  });

  it('turns a JSON X-Mailin-custom header into metadata and keeps a plain one under its name', () => {
    expect(only('request').data.metadata).toEqual({ user_id: 'usr_48213', tenant: 'acme-eu' });
    const plain = fixtureText('spam').replace(
      /"X-Mailin-custom": ".*",/,
      '"X-Mailin-custom": "some_custom_header",',
    );
    expect(brevo.parse(request(plain)).events[0]?.data.metadata).toEqual({
      'X-Mailin-custom': 'some_custom_header',
    });
    expect(only('unique_proxy_open').data.metadata).toEqual({});
  });

  it('gives transactional unsubscribes no group', () => {
    expect(only('unsubscribed').data.unsubscribe).toEqual({ group: null });
  });

  it('keeps a contact_id beyond 2^53 exact in raw', () => {
    const raw = only('unique_proxy_open').data.raw as Record<string, unknown>;
    expect(raw.contact_id).toBe('4816445214646337536');
  });

  it('reads a recipient that is an empty string as no recipient instead of failing the batch', () => {
    const text = fixtureText('unique_proxy_open').replace('"Reader@Example.com"', '""');
    expect(brevo.parse(request(text)).events[0]?.data.recipient).toBeNull();
  });
});

describe('Brevo timestamps', () => {
  const event = { ts: 1604937619, ts_event: 1604937619, date: '2020-11-09 17:00:19' };

  it('prefers ts_epoch in milliseconds, keeping the milliseconds', () => {
    expect(brevoTimeOf({ ...event, ts_epoch: 1520363423123 })).toEqual({
      ms: 1520363423123,
      field: 'ts_epoch',
    });
  });

  it('reads a seconds-size ts_epoch, as in the documentation samples, as seconds', () => {
    expect(brevoTimeOf({ ...event, ts_epoch: 1604933623 })).toEqual({ ms: 1604933623000, field: 'ts_epoch' });
  });

  it('falls back to ts_event, then ts, then date in Paris time', () => {
    expect(brevoTimeOf(event)).toEqual({ ms: 1604937619000, field: 'ts_event' });
    expect(brevoTimeOf({ ts: 1604937618, date: event.date })).toEqual({ ms: 1604937618000, field: 'ts' });
    expect(brevoTimeOf({ date: event.date })).toEqual({ ms: 1604937619000, field: 'date' });
    expect(brevoTimeOf({ date: 'yesterday' })).toBeNull();
  });

  it('converts Paris wall-clock times with the right offset in winter, in summer and around DST changes', () => {
    expect(new Date(parisLocalToUtcMs('2020-11-09 17:00:19') ?? 0).toISOString()).toBe(
      '2020-11-09T16:00:19.000Z',
    );
    expect(new Date(parisLocalToUtcMs('2024-08-22 12:33:29') ?? 0).toISOString()).toBe(
      '2024-08-22T10:33:29.000Z',
    );
    expect(new Date(parisLocalToUtcMs('2024-03-31 03:30:00') ?? 0).toISOString()).toBe(
      '2024-03-31T01:30:00.000Z',
    );
    expect(new Date(parisLocalToUtcMs('2024-10-27 01:59:59') ?? 0).toISOString()).toBe(
      '2024-10-26T23:59:59.000Z',
    );
    expect(new Date(parisLocalToUtcMs('2024-10-27 03:00:00') ?? 0).toISOString()).toBe(
      '2024-10-27T02:00:00.000Z',
    );
  });

  it('quarantines an event that carries no time at all', () => {
    expect(() => brevo.parse(request('{"event":"delivered","email":"a@example.com"}'))).toThrow(
      MalformedPayloadError,
    );
  });
});

describe('Brevo batched webhooks and dedup keys', () => {
  it('splits a batch into one canonical event per element', () => {
    const { events, skipped } = brevo.parse(request(fixtureText('batch')));
    expect(skipped).toEqual([]);
    expect(events.map((e) => e.type)).toEqual([
      'email.sent',
      'email.delivered',
      'email.opened',
      'email.opened',
      'email.clicked',
    ]);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(5);
  });

  it('gives a re-posted event the same key, and a second click on another link a different one', () => {
    const click = fixtureText('click');
    const first = brevo.parse(request(click)).events[0]?.dedupKey;
    expect(brevo.parse(request(click)).events[0]?.dedupKey).toBe(first);
    const other = click.replace('https://domain.com/product', 'https://domain.com/cart');
    expect(brevo.parse(request(other)).events[0]?.dedupKey).not.toBe(first);
  });

  it('ignores the webhook id, so one event reaching the source through two webhooks is stored once', () => {
    const a = brevo.parse(request(fixtureText('request'))).events[0]?.dedupKey;
    const b = brevo.parse(request(fixtureText('request').replace('"id": 12345', '"id": 67890'))).events[0]
      ?.dedupKey;
    expect(b).toBe(a);
  });

  it('skips unknown events, SMS events and marketing events with a reason, and keeps the rest', () => {
    const sms =
      '{"id":26527,"status":"OK","msg_status":"delivered","to":"33600000000","ts_event":1728459617}';
    const marketing = '{"event":"delivered","email":"a@example.com","camp_id":42,"ts_event":1728459617}';
    const unknown = '{"event":"list_addition","email":"a@example.com","ts_event":1728459617}';
    const body = `[${sms},${marketing},${unknown},${fixtureText('delivered')}]`;
    const { events, skipped } = brevo.parse(request(body));
    expect(events).toHaveLength(1);
    expect(skipped.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(skipped[0]?.reason).toMatch(/SMS/);
    expect(skipped[1]?.reason).toMatch(/marketing/);
    expect(skipped[2]?.reason).toMatch(/list_addition/);
  });

  it('throws the quarantine error for bodies that cannot be understood', () => {
    for (const body of ['{"event":', 'null', '[["x"]]', '{"email":"a@example.com","ts_event":1}']) {
      expect(() => brevo.parse(request(body)), body).toThrow(MalformedPayloadError);
    }
  });
});

describe('Brevo setup text', () => {
  it('explains the bearer token when the source expects an Authorization header', () => {
    const source = sourceWith({ header: { name: 'authorization', value: `Bearer ${TOKEN}` } });
    const text = brevo.setup(source, 'https://hooks.example.com/ingest/src_test');
    expect(text).toContain('https://hooks.example.com/ingest/src_test');
    expect(text).toContain('"type": "bearer"');
    expect(text).not.toContain(TOKEN);
  });
});
