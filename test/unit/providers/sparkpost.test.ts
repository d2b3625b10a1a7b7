import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { sparkPostTimestamp, sparkpost } from '../../../src/providers/sparkpost.js';
import {
  bounceTypeOfClass,
  SPARKPOST_BOUNCE_CLASSES,
} from '../../../src/providers/sparkpost-bounce-classes.js';
import type { Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/sparkpost');
const USER = 'sparkpost-hooks';
const PASSWORD = 'correct horse battery staple';
const HEADER = { name: 'X-MessageSystems-Webhook-Token', value: '5ebe2294ecd0e0f08eab7690d2a6ee69' };

type Element = { msys: Record<string, Record<string, unknown>>; [key: string]: unknown };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function sourceWith(config: Record<string, unknown>): Source {
  return adapterSource(sparkpost, config);
}

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function fixture(name: string): Element[] {
  return JSON.parse(fixtureText(name)) as Element[];
}

/** The one event inside a single-element fixture. */
function innerEvent(name: string): Record<string, unknown> {
  const [element] = fixture(name);
  return Object.values(element!.msys)[0]!;
}

function parseBody(body: unknown) {
  return sparkpost.parse(rawRequest(typeof body === 'string' ? body : JSON.stringify(body)));
}

function withEvent(name: string, changes: Record<string, unknown>): Element[] {
  const [element] = fixture(name);
  const [eventClass, event] = Object.entries(element!.msys)[0]!;
  return [{ msys: { [eventClass]: { ...event, ...changes } } }];
}

const ctx = verifyContext();

describe('SparkPost source configuration and verification', () => {
  const body = fixtureText('delivery');
  const basicSource = sourceWith({ basic_auth: { username: USER, password: PASSWORD } });
  const tokenSource = sourceWith({ header: HEADER });

  it('accepts the Basic Auth credentials set on the webhook and refuses others', async () => {
    expect(
      await sparkpost.verify(rawRequest(body, { Authorization: basic(USER, PASSWORD) }), basicSource, ctx),
    ).toEqual({ ok: true });
    expect(
      (await sparkpost.verify(rawRequest(body, { Authorization: basic(USER, 'wrong') }), basicSource, ctx))
        .ok,
    ).toBe(false);
    expect((await sparkpost.verify(rawRequest(body), basicSource, ctx)).ok).toBe(false);
  });

  it('accepts the deprecated X-MessageSystems-Webhook-Token configured as the source header', async () => {
    expect(
      (
        await sparkpost.verify(
          rawRequest(body, { 'X-MessageSystems-Webhook-Token': HEADER.value }),
          tokenSource,
          ctx,
        )
      ).ok,
    ).toBe(true);
    expect(
      (
        await sparkpost.verify(
          rawRequest(body, { 'X-MessageSystems-Webhook-Token': 'guess' }),
          tokenSource,
          ctx,
        )
      ).ok,
    ).toBe(false);
  });

  it('rejects a config without credentials with a message naming both options', () => {
    expect(() => sparkpost.validateConfig({ auth_token: 'x' })).toThrow(/basic_auth.*header/);
  });

  it('verifies the test ping with the same credentials as any batch', async () => {
    const ping = fixtureText('ping');
    expect(
      (await sparkpost.verify(rawRequest(ping, { authorization: basic(USER, PASSWORD) }), basicSource, ctx))
        .ok,
    ).toBe(true);
    expect((await sparkpost.verify(rawRequest(ping), basicSource, ctx)).ok).toBe(false);
  });
});

describe('SparkPost test ping', () => {
  it('yields no event and notes the empty element as skipped', () => {
    expect(parseBody(fixtureText('ping'))).toEqual({
      events: [],
      skipped: [{ index: 0, reason: expect.stringContaining('ping') }],
    });
  });
});

interface Expectation {
  type: string;
  bounce?: string;
}

const EXPECTED: Record<string, Expectation> = {
  injection: { type: 'email.sent' },
  delivery: { type: 'email.delivered' },
  bounce: { type: 'email.bounced', bounce: 'hard' },
  'bounce-block': { type: 'email.bounced', bounce: 'soft' },
  out_of_band: { type: 'email.bounced', bounce: 'soft' },
  delay: { type: 'email.deferred' },
  policy_rejection: { type: 'email.dropped', bounce: 'undetermined' },
  generation_rejection: { type: 'email.dropped', bounce: 'undetermined' },
  generation_failure: { type: 'email.failed' },
  spam_complaint: { type: 'email.complained' },
  open: { type: 'email.opened' },
  initial_open: { type: 'email.opened' },
  amp_open: { type: 'email.opened' },
  amp_initial_open: { type: 'email.opened' },
  click: { type: 'email.clicked' },
  amp_click: { type: 'email.clicked' },
  list_unsubscribe: { type: 'email.unsubscribed' },
  link_unsubscribe: { type: 'email.unsubscribed' },
};

const NOT_MAPPED = ['ping', 'sms_status', 'batch-mixed'];

describe('SparkPost parsing of every documented event type', () => {
  it('has a fixture for every expectation and an expectation for every fixture', () => {
    const files = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace('.json', ''));
    expect(files.sort()).toEqual([...Object.keys(EXPECTED), ...NOT_MAPPED].sort());
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    it(`maps the ${name} fixture to ${want.type} with its identity fields`, () => {
      const [element] = fixture(name);
      const original = innerEvent(name);
      const { events, skipped } = parseBody(fixtureText(name));
      expect(skipped).toEqual([]);
      expect(events).toHaveLength(1);
      const event = events[0]!;
      expect(event.type).toBe(want.type);
      expect(event.dedupKey).toBe(original.event_id);
      expect(event.data.provider_event_id).toBe(original.event_id);
      expect(event.data.recipient).toBe('recipient@example.com');
      expect(event.data.message_id).toBe('65832150921904138');
      expect(event.timestamp.toISOString()).toBe(sparkPostTimestamp(original.timestamp)?.toISOString());
      expect(event.data.bounce?.type).toBe(want.bounce);
      expect(event.data.tags).toEqual(['male', 'US']);
      expect(event.data.metadata).toEqual({ customKey: 'customValue' });
      expect(event.data.raw).toEqual(element);
    });
  }

  it('reads webhook timestamps as Unix seconds and the documented samples as ISO 8601', () => {
    const [delivery] = parseBody(fixtureText('delivery')).events;
    expect(delivery?.timestamp.toISOString()).toBe('2016-04-18T14:25:09.000Z');
    const [failure] = parseBody(fixtureText('generation_failure')).events;
    expect(failure?.timestamp.toISOString()).toBe('2016-04-18T14:25:07.000Z');
  });

  it('gives bounces the enhanced status code, the raw SMTP response and the class meaning', () => {
    expect(parseBody(fixtureText('bounce')).events[0]?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: '550 5.1.1 <Recipient@example.com>: Recipient address rejected: User unknown',
    });
    // No enhanced code in the response: SparkPost's error_code stands in.
    expect(parseBody(fixtureText('bounce-block')).events[0]?.data.bounce).toEqual({
      type: 'soft',
      code: '554',
      reason: 'MAIL REFUSED - IP (17.99.99.99) is in black list',
    });
  });

  it('turns a bounce whose class is 25 Admin Failure into a drop', () => {
    const [event] = parseBody(withEvent('bounce', { bounce_class: '25' })).events;
    expect(event?.type).toBe('email.dropped');
    expect(event?.data.bounce?.type).toBe('undetermined');
  });

  it('carries the clicked URL, the reader IP and user agent, and global unsubscribes', () => {
    const [click] = parseBody(fixtureText('click')).events;
    expect(click?.data.click).toEqual({ url: 'http://example.com' });
    expect(click?.data.ip).toBe('127.0.0.1');
    expect(click?.data.user_agent).toContain('Chrome/41.0.2272.118');
    expect(parseBody(fixtureText('open')).events[0]?.data.open).toEqual({ machine: false });
    expect(parseBody(fixtureText('link_unsubscribe')).events[0]?.data.unsubscribe).toEqual({ group: null });
  });

  it('falls back to the SparkPost message_id only when an event has no transmission_id', () => {
    const [event] = parseBody(withEvent('delivery', { transmission_id: undefined })).events;
    expect(event?.data.message_id).toBe('000443ee14578172be22');
  });

  it('lower-cases raw_rcpt_to when rcpt_to is absent', () => {
    const [event] = parseBody(withEvent('delivery', { rcpt_to: undefined })).events;
    expect(event?.data.recipient).toBe('recipient@example.com');
  });

  it('skips SMS status events with a reason', () => {
    expect(parseBody(fixtureText('sms_status'))).toEqual({
      events: [],
      skipped: [{ index: 0, reason: expect.stringContaining('sms_status') }],
    });
  });
});

describe('SparkPost batches', () => {
  it('splits a mixed batch into one event per element, in order, skipping the relay message', () => {
    const batch = fixture('batch-mixed');
    const { events, skipped } = parseBody(fixtureText('batch-mixed'));
    expect(events.map((e) => e.type)).toEqual([
      'email.delivered',
      'email.sent',
      'email.opened',
      'email.opened',
      'email.clicked',
      'email.unsubscribed',
    ]);
    expect(skipped).toEqual([{ index: 5, reason: expect.stringContaining('relay_message') }]);
    // The element keeps its real-data siblings (`cust`) in raw.
    expect(events[5]?.data.raw).toEqual(batch[6]);
  });

  it('gives an event repeated inside one batch the same dedup key', () => {
    const [element] = fixture('delivery');
    const { events } = parseBody([element, { msys: {} }, element]);
    expect(events).toHaveLength(2);
    expect(events[0]?.dedupKey).toBe(events[1]?.dedupKey);
  });

  it('reads the generation event class whichever name SparkPost gives it', () => {
    const event = innerEvent('generation_failure');
    for (const eventClass of ['gen_event', 'message_event']) {
      expect(parseBody([{ msys: { [eventClass]: event } }]).events[0]?.type).toBe('email.failed');
    }
  });

  it('skips relay, A/B test and ingest classes and unknown event types with reasons', () => {
    const result = parseBody([
      { msys: { relay_event: { type: 'relay_delivery' } } },
      { msys: { ab_test_event: { type: 'ab_test_completed' } } },
      { msys: { ingest_event: { type: 'success' } } },
      { msys: { message_event: { type: 'teleportation', rcpt_to: 'a@example.com' } } },
    ]);
    expect(result.events).toEqual([]);
    expect(result.skipped.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(result.skipped[3]?.reason).toContain('"teleportation"');
  });

  it('keeps an unquoted event_id beyond 2^53 exact', () => {
    const text = fixtureText('delivery').replace(
      '"event_id": "92356927693813857"',
      '"event_id": 92356927693813857',
    );
    expect(text).toContain('"event_id": 92356927693813857');
    expect(parseBody(text).events[0]?.dedupKey).toBe('92356927693813857');
  });

  it('throws a malformed-payload error for bodies that are not SparkPost batches', () => {
    expect(() => parseBody('[{"msys":')).toThrow(MalformedPayloadError);
    expect(() => parseBody({ msys: {} })).toThrow(/JSON array/);
    expect(() => parseBody([42])).toThrow(/msys/);
    expect(() => parseBody([{ msys: { message_event: { rcpt_to: 'a@example.com' } } }])).toThrow(/type/);
    expect(() => parseBody(withEvent('delivery', { rcpt_to: undefined, raw_rcpt_to: undefined }))).toThrow(
      /rcpt_to/,
    );
    expect(() => parseBody(withEvent('delivery', { timestamp: 'soon' }))).toThrow(/timestamp/);
  });
});

describe('SparkPost timestamps', () => {
  it('parses Unix seconds given as strings or numbers, and ISO 8601 with offsets, to the millisecond', () => {
    expect(sparkPostTimestamp('1464824548')?.toISOString()).toBe('2016-06-01T23:42:28.000Z');
    expect(sparkPostTimestamp(1464824548)?.toISOString()).toBe('2016-06-01T23:42:28.000Z');
    expect(sparkPostTimestamp('1464824548.123456')?.toISOString()).toBe('2016-06-01T23:42:28.123Z');
    expect(sparkPostTimestamp('2018-10-11T23:24:45.000+00:00')?.toISOString()).toBe(
      '2018-10-11T23:24:45.000Z',
    );
    expect(sparkPostTimestamp('2016-04-18T10:25:07.123-04:00')?.toISOString()).toBe(
      '2016-04-18T14:25:07.123Z',
    );
  });

  it('reads a millisecond-size value as milliseconds and refuses what is no time', () => {
    expect(sparkPostTimestamp('1464824548123')?.toISOString()).toBe('2016-06-01T23:42:28.123Z');
    expect(sparkPostTimestamp('yesterday')).toBeNull();
    expect(sparkPostTimestamp(null)).toBeNull();
    expect(sparkPostTimestamp(-5)).toBeNull();
    expect(sparkPostTimestamp('2019-02-30T00:00:00Z')).toBeNull();
  });
});

/** SparkPost's bounce classification table, and the canonical bounce type of each class. */
const CLASS_TYPES: Record<number, string> = {
  1: 'undetermined',
  10: 'hard',
  20: 'soft',
  21: 'soft',
  22: 'soft',
  23: 'soft',
  24: 'soft',
  25: 'undetermined',
  30: 'hard',
  40: 'soft',
  50: 'soft',
  51: 'soft',
  52: 'soft',
  53: 'soft',
  54: 'soft',
  60: 'soft',
  70: 'soft',
  80: 'undetermined',
  90: 'hard',
  100: 'soft',
};

describe('SparkPost bounce classification codes', () => {
  it('holds every code of the published table', () => {
    expect(Object.keys(SPARKPOST_BOUNCE_CLASSES).map(Number)).toEqual(Object.keys(CLASS_TYPES).map(Number));
  });

  for (const [code, type] of Object.entries(CLASS_TYPES)) {
    it(`classifies bounce_class ${code} (${SPARKPOST_BOUNCE_CLASSES[Number(code)]?.name}) as ${type}`, () => {
      expect(bounceTypeOfClass(code)).toBe(type);
      expect(bounceTypeOfClass(Number(code))).toBe(type);
      const [event] = parseBody(withEvent('bounce', { bounce_class: code })).events;
      expect(event?.data.bounce?.type).toBe(type);
    });
  }

  it('classifies a missing or unknown class as undetermined', () => {
    expect(bounceTypeOfClass(undefined)).toBe('undetermined');
    expect(bounceTypeOfClass('999')).toBe('undetermined');
    expect(bounceTypeOfClass('ten')).toBe('undetermined');
  });
});

describe('SparkPost setup text', () => {
  it('names the dashboard steps and never prints the password or header value', () => {
    const source = sourceWith({ basic_auth: { username: USER, password: PASSWORD }, header: HEADER });
    const text = sparkpost.setup(source, 'https://hooks.example.com/ingest/src_test');
    expect(text).toContain('Webhooks');
    expect(text).toContain('Basic Auth');
    expect(text).toContain(USER);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(HEADER.value);
  });
});
