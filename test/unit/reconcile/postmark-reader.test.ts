import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailhookError } from '../../../src/errors.js';
import type { ParsedEvent } from '../../../src/events.js';
import { parseJsonLossless } from '../../../src/providers/json.js';
import { parseIsoInstant, postmark } from '../../../src/providers/postmark.js';
import { PostmarkReadLimitError, postmarkReader, webhookTimeOf } from '../../../src/reconcile/postmark.js';
import {
  type HttpGet,
  type ReaderConfig,
  ReaderFormatError,
  ReaderHttpError,
  type ReadWindow,
} from '../../../src/reconcile/types.js';
import { rawRequest } from '../../helpers/adapter-request.js';
import { FakePostmarkApi, fetchGet } from './postmark-fake-api.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/postmark');
const TOKEN = 'b7e2c1d4-5a6f-4e3b-9c8d-0f1e2d3c4b5a';

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function fixture(name: string): Record<string, unknown> {
  return parseJsonLossless(fixtureText(name)) as Record<string, unknown>;
}

/** What the webhook adapter makes of the fixture posted as Postmark posts it. */
function viaWebhook(name: string): ParsedEvent {
  const result = postmark.parse(rawRequest(fixtureText(name)));
  expect(result.events).toHaveLength(1);
  return result.events[0]!;
}

/** JSON as Postmark writes it: bounce IDs beyond 2^53 (kept as strings when read) go back to numbers. */
function apiJson(item: Record<string, unknown>): string {
  return JSON.stringify(item).replace(/"ID":"(\d+)"/, '"ID":$1');
}

/** Everything the two paths must agree on; `raw` is each path's own provider object. */
function comparable(event: ParsedEvent) {
  const { raw: _raw, ...data } = event.data;
  return { type: event.type, timestamp: event.timestamp.toISOString(), dedupKey: event.dedupKey, data };
}

let api: FakePostmarkApi;
let config: ReaderConfig;

beforeEach(async () => {
  api = await FakePostmarkApi.start({ token: TOKEN });
  config = { apiKey: TOKEN, apiBaseUrl: api.baseUrl };
});

afterEach(async () => {
  await api.close();
});

/** Reads the whole window the way the job does: page after page until `next` is null. */
async function readAll(window: ReadWindow, get: HttpGet = fetchGet, from: string | null = null) {
  const events: ParsedEvent[] = [];
  let skipped = 0;
  let cursor = from;
  for (let pages = 0; pages < 100; pages++) {
    const page = await postmarkReader.readPage({ config, window, cursor, get });
    events.push(...page.events);
    skipped += page.skipped;
    if (page.next === null) return { events, skipped, pages: pages + 1 };
    cursor = page.next;
  }
  throw new Error('the reader never reached the end of the window');
}

function around(iso: string): ReadWindow {
  const at = parseIsoInstant(iso)!.getTime();
  return { since: new Date(at - 3_600_000), until: new Date(at + 3_600_000) };
}

function bounceItem(at: string, id: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ID: id,
    Type: 'HardBounce',
    TypeCode: 1,
    Name: 'Hard bounce',
    Tag: 'Invitation',
    MessageID: 'c0ffee00-0000-4000-8000-000000000001',
    ServerID: 23,
    MessageStream: 'outbound',
    Description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
    Details: 'smtp;550 5.1.1 unknown user',
    Email: `user${id}@example.com`,
    From: 'sender@example.com',
    BouncedAt: at,
    DumpAvailable: false,
    Inactive: true,
    CanActivate: true,
    Subject: 'Hello',
    ...extra,
  });
}

function openItem(at: string, n: number): string {
  return JSON.stringify({
    RecordType: 'Open',
    Client: { Name: 'Gmail', Company: 'Google', Family: 'Gmail' },
    OS: { Name: 'unknown', Company: 'unknown', Family: 'unknown' },
    Platform: 'WebMail',
    UserAgent: 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)',
    ReadSeconds: 0,
    Geo: {},
    MessageID: 'c0ffee00-0000-4000-8000-000000000001',
    ReceivedAt: at,
    Tag: 'Invitation',
    Recipient: `user${n}@example.com`,
    MessageStream: 'outbound',
  });
}

/** An Eastern-time API timestamp `minutes` after 2019-11-05T12:00:00-05:00, 7 fractional digits. */
function easternMinute(minutes: number): string {
  const local = new Date(Date.UTC(2019, 10, 5, 12, minutes)).toISOString().slice(0, 19);
  return `${local}.1234567-05:00`;
}

describe('postmarkReader.validateConfig', () => {
  it('returns {} when no API field is set, ignoring the webhook fields', () => {
    expect(postmarkReader.validateConfig({ basic_auth: { username: 'u', password: 'p' } })).toEqual({});
  });

  it('defaults the base URL to the public API and trims the server token', () => {
    expect(postmarkReader.validateConfig({ api_key: ` ${TOKEN} ` })).toEqual({
      api_key: TOKEN,
      api_base_url: 'https://api.postmarkapp.com',
    });
    expect(postmarkReader.defaultBaseUrl).toBe('https://api.postmarkapp.com');
    expect(postmarkReader.provider).toBe('postmark');
    expect(postmarkReader.retentionMs).toBe(45 * 24 * 60 * 60 * 1000);
  });

  it('requires the server token as soon as any API field is given', () => {
    expect(() => postmarkReader.validateConfig({ api_base_url: 'https://api.postmarkapp.com' })).toThrow(
      /api_key is required/,
    );
    expect(() => postmarkReader.validateConfig({ api_key: '  ' })).toThrow(MailhookError);
    expect(() => postmarkReader.validateConfig({ api_key: 'two words' })).toThrow(/no spaces/);
  });

  it('takes https anywhere and http only on the loopback, without a trailing slash', () => {
    expect(
      postmarkReader.validateConfig({ api_key: TOKEN, api_base_url: 'https://pm.example.com/' }),
    ).toEqual({
      api_key: TOKEN,
      api_base_url: 'https://pm.example.com',
    });
    expect(
      postmarkReader.validateConfig({ api_key: TOKEN, api_base_url: 'http://127.0.0.1:8080' }).api_base_url,
    ).toBe('http://127.0.0.1:8080');
    expect(
      postmarkReader.validateConfig({ api_key: TOKEN, api_base_url: 'http://localhost:9' }).api_base_url,
    ).toBe('http://localhost:9');
    expect(() =>
      postmarkReader.validateConfig({ api_key: TOKEN, api_base_url: 'http://api.postmarkapp.com' }),
    ).toThrow(/https/);
    expect(() => postmarkReader.validateConfig({ api_key: TOKEN, api_base_url: 'not a url' })).toThrow(
      /not a URL/,
    );
    expect(() =>
      postmarkReader.validateConfig({ api_key: TOKEN, api_base_url: 'https://u:p@api.postmarkapp.com' }),
    ).toThrow(/credentials/);
  });
});

describe('API times in the webhook spelling', () => {
  it('turns an Eastern time with 7 digits into the UTC string the webhook writes for the same instant', () => {
    expect(webhookTimeOf('2019-11-05T11:33:54.9070259-05:00')).toBe('2019-11-05T16:33:54.9070259Z');
    expect(webhookTimeOf('2017-10-25T11:21:11.9065619-04:00')).toBe('2017-10-25T15:21:11.9065619Z');
    // The webhook drops trailing zeros of the fraction (subscription change example: 6 digits) and a zero fraction.
    expect(webhookTimeOf('2020-02-01T05:53:34.4160710-05:00')).toBe('2020-02-01T10:53:34.416071Z');
    expect(webhookTimeOf('2022-06-05T13:17:32.0000000-04:00')).toBe('2022-06-05T17:17:32Z');
    // Across midnight and a month end.
    expect(webhookTimeOf('2019-11-30T22:00:00.5-05:00')).toBe('2019-12-01T03:00:00.5Z');
    expect(webhookTimeOf('not a time')).toBe('not a time');
  });
});

describe('the same underlying event through the webhook and through the API', () => {
  // The Bounces API item is the webhook's Bounce record without RecordType, Metadata and Content
  // (the list leaves the dump out; the single-bounce call has it), with BouncedAt in Eastern Time as
  // the API writes it. Spam complaints are bounces of Type SpamComplaint, TypeCode 100001 (the
  // webhook example says 512). Metadata comes from the message details.
  const bounces: Array<[fixture: string, apiBouncedAt: string]> = [
    ['bounce-hard', '2019-11-05T11:33:54.9070259-05:00'],
    ['bounce-soft', '2014-08-01T13:28:10.2735393-04:00'],
    ['bounce-transient', '2019-11-05T11:40:01.1234567-05:00'],
    ['bounce-blocked', '2019-11-05T11:41:00.0000001-05:00'],
    ['bounce-bad-email-address', '2019-11-05T11:42:00.5000000-05:00'],
    ['bounce-manually-deactivated', '2019-11-05T11:43:00.0000000-05:00'],
    ['bounce-template-rendering-failed', '2019-11-05T11:44:00.2500000-05:00'],
    ['spam-complaint', '2019-11-05T11:33:54.9070259-05:00'],
  ];

  for (const [name, bouncedAt] of bounces) {
    it(`${name}: the Bounces API item maps to the webhook's event, with the same ID key`, async () => {
      const webhook = fixture(name);
      const { RecordType: _type, Metadata, Content: _content, ...rest } = webhook;
      const item: Record<string, unknown> = { ...rest, BouncedAt: bouncedAt };
      if (name === 'spam-complaint') item.TypeCode = 100001;
      api.addBounce(apiJson(item));
      api.addMessage(String(webhook.MessageID), {
        Metadata,
        Tag: webhook.Tag,
        MessageStream: webhook.MessageStream,
        Status: 'Sent',
      });

      const { events } = await readAll(around(String(webhook.BouncedAt)));
      const expected = viaWebhook(name);
      expect(events).toHaveLength(1);
      expect(comparable(events[0]!)).toEqual(comparable(expected));
      expect(events[0]!.dedupKey).toBe(`${String(webhook.RecordType)}:${String(webhook.ID)}`);
      // raw is the provider's own object on each path: the API item here, the webhook record there.
      expect(events[0]!.data.raw).toEqual(parseJsonLossless(apiJson(item)));
      expect(expected.data.raw).toMatchObject({ RecordType: webhook.RecordType, Metadata });
    });
  }

  it('open: the opens API item (no Metadata, Eastern ReceivedAt) maps to the webhook event with the same hashed key', async () => {
    const webhook = fixture('open');
    // The opens API item as postmark.js's OpenEvent types it: no FirstOpen, no Metadata.
    const { FirstOpen: _first, Metadata, ...rest } = webhook;
    const item = { ...rest, ReadSeconds: 0, ReceivedAt: '2019-11-05T11:33:54.9070259-05:00' };
    api.addOpen(JSON.stringify(item));
    api.addMessage(String(webhook.MessageID), { Metadata, Tag: webhook.Tag, MessageStream: 'outbound' });

    const { events } = await readAll(around('2019-11-05T16:33:54Z'));
    expect(events).toHaveLength(1);
    expect(comparable(events[0]!)).toEqual(comparable(viaWebhook('open')));
    expect(events[0]!.data.raw).toEqual(item);
  });

  it('click: the clicks API item maps to the webhook event with the same hashed key (message, recipient, time, link)', async () => {
    const webhook = fixture('click');
    const { Metadata, ...rest } = webhook;
    const item = { ...rest, ReceivedAt: '2017-10-25T11:21:11.9065619-04:00' };
    api.addClick(JSON.stringify(item));
    api.addMessage(String(webhook.MessageID), { Metadata, Tag: webhook.Tag, MessageStream: 'outbound' });

    const { events } = await readAll(around('2017-10-25T15:21:11Z'));
    expect(events).toHaveLength(1);
    expect(comparable(events[0]!)).toEqual(comparable(viaWebhook('click')));
    expect(events[0]!.data.click).toEqual({ url: 'https://example.com' });
  });

  it('a message Postmark no longer has (422, ErrorCode 701) leaves the event without metadata, key unchanged', async () => {
    const webhook = fixture('bounce-hard');
    const { RecordType: _type, Metadata: _metadata, Content: _content, ...rest } = webhook;
    api.addBounce(apiJson({ ...rest, BouncedAt: '2019-11-05T11:33:54.9070259-05:00' }));

    const { events } = await readAll(around('2019-11-05T16:33:54Z'));
    expect(events).toHaveLength(1);
    expect(events[0]!.data.metadata).toEqual({});
    expect(events[0]!.dedupKey).toBe(viaWebhook('bounce-hard').dedupKey);
    expect(api.requests.map((r) => r.path)).toContain(
      '/messages/outbound/883953f4-6105-42a2-a16a-77a8eac79483/details',
    );
  });
});

describe('postmarkReader.readPage', () => {
  it('sends the server token on every request: Bounces, details, clicks, opens', async () => {
    api.addBounce(bounceItem(easternMinute(1), 1));
    api.addOpen(openItem(easternMinute(2), 2));
    await readAll({ since: new Date('2019-11-05T17:00:00Z'), until: new Date('2019-11-05T18:00:00Z') });
    expect(api.requests.map((r) => r.path)).toEqual([
      '/bounces',
      '/messages/outbound/c0ffee00-0000-4000-8000-000000000001/details',
      '/messages/outbound/clicks',
      '/messages/outbound/opens',
      '/messages/outbound/c0ffee00-0000-4000-8000-000000000001/details',
    ]);
    expect(new Set(api.requests.map((r) => r.token))).toEqual(new Set([TOKEN]));
  });

  it('turns the window into Eastern fromdate/todate, a second wider on each side', async () => {
    await readAll({ since: new Date('2019-11-05T16:00:00Z'), until: new Date('2019-11-05T17:00:00.250Z') });
    const bounces = api.requests.find((r) => r.path === '/bounces')!;
    expect(Object.fromEntries(bounces.query)).toEqual({
      count: '500',
      offset: '0',
      fromdate: '2019-11-05T10:59:59',
      todate: '2019-11-05T12:00:01',
    });
    const summer = { since: new Date('2019-07-01T04:00:00Z'), until: new Date('2019-07-02T04:00:00Z') };
    await readAll(summer);
    const july = api.requests.filter((r) => r.path === '/bounces').at(-1)!;
    expect(july.query.get('fromdate')).toBe('2019-06-30T23:59:59');
    expect(july.query.get('todate')).toBe('2019-07-02T00:00:01');
  });

  it('widens by an hour at a DST change, so a bounce in the repeated hour is found either way', async () => {
    // 2019-11-03: 01:00–02:00 happens twice in New York (EDT, then EST).
    api.addBounce(bounceItem('2019-11-03T01:45:00.0000000-04:00', 1));
    api.addBounce(bounceItem('2019-11-03T01:15:00.0000000-05:00', 2));
    api.addBounce(bounceItem('2019-11-03T00:59:00.0000000-04:00', 3)); // before the window
    const { events } = await readAll({
      since: new Date('2019-11-03T05:30:00Z'),
      until: new Date('2019-11-03T07:00:00Z'),
    });
    const bounces = api.requests.find((r) => r.path === '/bounces')!;
    expect(bounces.query.get('fromdate')).toBe('2019-11-03T00:30:00');
    expect(events.map((e) => e.data.provider_event_id).sort()).toEqual(['1', '2']);
  });

  it('keeps only events inside [since, until): the date filters are whole seconds, the window is not', async () => {
    api.addBounce(bounceItem('2019-11-05T12:00:00.0000000-05:00', 1)); // = since: in
    api.addBounce(bounceItem('2019-11-05T11:59:59.9999999-05:00', 2)); // before since
    api.addBounce(bounceItem('2019-11-05T12:10:00.0000000-05:00', 3)); // = until: out
    const { events } = await readAll({
      since: new Date('2019-11-05T17:00:00Z'),
      until: new Date('2019-11-05T17:10:00Z'),
    });
    expect(events.map((e) => e.data.provider_event_id)).toEqual(['1']);
  });

  it('pages through a slice 500 at a time, then clicks, then opens', async () => {
    for (let i = 0; i < 1_100; i++) api.addBounce(bounceItem(easternMinute(i % 600), 1000 + i));
    const { events, pages } = await readAll({
      since: new Date('2019-11-05T17:00:00Z'),
      until: new Date('2019-11-06T03:00:00Z'),
    });
    expect(events).toHaveLength(1_100);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(1_100);
    expect(pages).toBe(5);
    expect(api.requests.filter((r) => r.path === '/bounces').map((r) => r.query.get('offset'))).toEqual([
      '0',
      '500',
      '1000',
    ]);
  });

  it('a job resumed from a stored cursor continues where it stopped, missing nothing', async () => {
    for (let i = 0; i < 1_100; i++) api.addBounce(bounceItem(easternMinute(i % 600), 1000 + i));
    for (let i = 0; i < 3; i++) api.addOpen(openItem(easternMinute(i), i));
    const window = { since: new Date('2019-11-05T17:00:00Z'), until: new Date('2019-11-06T03:00:00Z') };
    const first = await postmarkReader.readPage({ config, window, cursor: null, get: fetchGet });
    expect(first.events).toHaveLength(500);
    // The job stops (crash, restart) and a new run starts from the stored cursor, as opaque text.
    const rest = await readAll(window, fetchGet, String(first.next));
    const keys = [...first.events, ...rest.events].map((e) => e.dedupKey);
    expect(keys).toHaveLength(1_103);
    expect(new Set(keys).size).toBe(1_103);
  });

  it('splits a window holding more than 10,000 bounces by time and never asks past offset + count = 10,000', async () => {
    const start = Date.parse('2019-11-05T17:00:00Z');
    for (let i = 0; i < 10_050; i++) {
      const at = new Date(start + i * 600).toISOString().replace('Z', '0000Z');
      api.addBounce(bounceItem(at, 50_000 + i));
    }
    const { events } = await readAll({ since: new Date(start), until: new Date(start + 2 * 3_600_000) });
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(10_050);
    for (const r of api.requests.filter((q) => q.path === '/bounces')) {
      expect(Number(r.query.get('offset')) + Number(r.query.get('count'))).toBeLessThanOrEqual(10_000);
    }
  });

  it('stops reading opens once they are older than the window (they come newest first)', async () => {
    // One open a minute from 12:00 to 21:59 Eastern; the window holds 13:00–13:59.
    for (let i = 0; i < 600; i++) api.addOpen(openItem(easternMinute(i), i));
    const { events } = await readAll({
      since: new Date('2019-11-05T18:00:00Z'),
      until: new Date('2019-11-05T19:00:00Z'),
    });
    expect(events).toHaveLength(60);
    expect(events.every((e) => e.type === 'email.opened')).toBe(true);
    const opens = api.requests.filter((r) => r.path === '/messages/outbound/opens');
    // 600 opens: page one (offset 0) holds 21:59 back to 13:40, page two reaches past 13:00 and stops.
    expect(opens.map((r) => r.query.get('offset'))).toEqual(['0', '500']);
  });

  it('reports a window that starts before the newest 10,000 opens instead of reading it short', async () => {
    for (let i = 0; i < 10_200; i++) {
      api.addOpen(openItem(new Date(Date.parse('2019-11-05T17:00:00Z') + i * 100).toISOString(), i));
    }
    const window = { since: new Date('2019-11-05T16:00:00Z'), until: new Date('2019-11-05T18:00:00Z') };
    let cursor: string | null = null;
    let read = 0;
    let error: unknown = null;
    try {
      for (;;) {
        const page = await postmarkReader.readPage({ config, window, cursor, get: fetchGet });
        read += page.events.length;
        if (page.next === null) break;
        cursor = page.next;
      }
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PostmarkReadLimitError);
    expect(read).toBe(10_000);
  });

  it('counts bounce records that are not email events as skipped', async () => {
    api.addBounce(
      bounceItem(easternMinute(1), 1, { Type: 'Subscribe', TypeCode: 32, Name: 'Subscribe request' }),
    );
    api.addBounce(bounceItem(easternMinute(2), 2));
    const result = await readAll({
      since: new Date('2019-11-05T17:00:00Z'),
      until: new Date('2019-11-05T18:00:00Z'),
    });
    expect(result.events).toHaveLength(1);
    expect(result.skipped).toBe(1);
  });

  it('reads nothing for an empty window', async () => {
    const at = new Date('2019-11-05T17:00:00Z');
    expect(
      await postmarkReader.readPage({
        config,
        window: { since: at, until: at },
        cursor: null,
        get: fetchGet,
      }),
    ).toEqual({ events: [], skipped: 0, next: null });
    expect(api.requests).toHaveLength(0);
  });

  it('refuses a cursor it did not make', async () => {
    const window = { since: new Date('2019-11-05T17:00:00Z'), until: new Date('2019-11-05T18:00:00Z') };
    await expect(
      postmarkReader.readPage({ config, window, cursor: 'garbage', get: fetchGet }),
    ).rejects.toThrow(/cursor/);
    const beyond = JSON.stringify({
      list: 'bounces',
      from: 0,
      to: Date.parse('2030-01-01T00:00:00Z'),
      offset: 0,
    });
    await expect(postmarkReader.readPage({ config, window, cursor: beyond, get: fetchGet })).rejects.toThrow(
      /cursor/,
    );
  });
});

describe('postmarkReader errors', () => {
  const window = { since: new Date('2019-11-05T17:00:00Z'), until: new Date('2019-11-05T18:00:00Z') };
  const read = () => postmarkReader.readPage({ config, window, cursor: null, get: fetchGet });

  async function failure(): Promise<unknown> {
    try {
      await read();
    } catch (err) {
      return err;
    }
    throw new Error('the read did not fail');
  }

  it('a wrong token: 401 with ErrorCode 10 becomes ReaderHttpError 401', async () => {
    config = { ...config, apiKey: 'wrong-token' };
    const err = await failure();
    expect(err).toBeInstanceOf(ReaderHttpError);
    expect((err as ReaderHttpError).status).toBe(401);
    expect((err as ReaderHttpError).message).toMatch(/ErrorCode 10/);
  });

  it('429 with Retry-After carries the wait; without it, null', async () => {
    api.answerWith(
      { status: 429, headers: { 'retry-after': '7' }, body: '{"ErrorCode":0,"Message":"Too many requests"}' },
      { status: 429, body: '' },
    );
    const first = (await failure()) as ReaderHttpError;
    expect(first).toBeInstanceOf(ReaderHttpError);
    expect([first.status, first.retryAfterMs]).toEqual([429, 7000]);
    const second = (await failure()) as ReaderHttpError;
    expect([second.status, second.retryAfterMs]).toEqual([429, null]);
  });

  it('500 becomes ReaderHttpError 500, on the list and on the message details', async () => {
    api.answerWith({ status: 500, body: '<html>oops</html>' });
    const err = (await failure()) as ReaderHttpError;
    expect([err.status, err.retryAfterMs]).toEqual([500, null]);

    api.addBounce(bounceItem(easternMinute(1), 1));
    api.answerWith({ status: 200, body: `{"TotalCount":1,"Bounces":[${bounceItem(easternMinute(1), 1)}]}` });
    api.answerWith({ status: 503, headers: { 'retry-after': '2' }, body: '' });
    const details = (await failure()) as ReaderHttpError;
    expect([details.status, details.retryAfterMs]).toEqual([503, 2000]);
    expect(details.message).toMatch(/message details/);
  });

  it('a 200 whose body is not JSON, or has no Bounces list, is a ReaderFormatError', async () => {
    api.answerWith({ status: 200, body: '{"TotalCount": 1, "Bounces": [' });
    expect(await failure()).toBeInstanceOf(ReaderFormatError);
    api.answerWith({ status: 200, body: '{"TotalCount": 0}' });
    expect(await failure()).toBeInstanceOf(ReaderFormatError);
    api.answerWith({
      status: 200,
      body: '{"TotalCount": 1, "Bounces": [{"ID": 1, "Email": "a@example.com"}]}',
    });
    expect(await failure()).toBeInstanceOf(ReaderFormatError);
  });
});
