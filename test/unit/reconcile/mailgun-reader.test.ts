import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailhookError } from '../../../src/errors.js';
import type { ParsedEvent } from '../../../src/events.js';
import { mailgun } from '../../../src/providers/mailgun.js';
import { mailgunReader } from '../../../src/reconcile/mailgun.js';
import {
  type HttpGet,
  type ReaderConfig,
  ReaderFormatError,
  ReaderHttpError,
  type ReadWindow,
} from '../../../src/reconcile/types.js';
import { rawRequest } from '../../helpers/adapter-request.js';
import { FakeMailgunEventsApi, fetchGet } from './mailgun-fake-api.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/mailgun');
const API_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const DOMAIN = 'sample.mailgun.com';

// 2026-02-03 19:00 → 2026-02-04 06:00 UTC: every current-format fixture happened inside it.
const WINDOW: ReadWindow = {
  since: new Date('2026-02-03T19:00:00Z'),
  until: new Date('2026-02-04T06:00:00Z'),
};

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

/** What the webhook adapter makes of the fixture posted as Mailgun posts it. */
function viaWebhook(body: string): ParsedEvent[] {
  return mailgun.parse(rawRequest(body, { 'content-type': 'application/json' })).events;
}

function eventDataText(name: string): string {
  return JSON.stringify((JSON.parse(fixtureText(name)) as { 'event-data': unknown })['event-data']);
}

let api: FakeMailgunEventsApi;
let config: ReaderConfig;

beforeEach(async () => {
  api = await FakeMailgunEventsApi.start({ apiKey: API_KEY, domain: DOMAIN });
  config = { apiKey: API_KEY, apiBaseUrl: api.baseUrl, domain: DOMAIN };
});

afterEach(async () => {
  await api.close();
});

/** Reads the whole window the way the job does: page after page until `next` is null. */
async function readAll(window: ReadWindow = WINDOW, get: HttpGet = fetchGet) {
  const events: ParsedEvent[] = [];
  let skipped = 0;
  let cursor: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const page = await mailgunReader.readPage({ config, window, cursor, get });
    events.push(...page.events);
    skipped += page.skipped;
    if (page.next === null) return { events, skipped, pages: pages + 1 };
    cursor = page.next;
  }
  throw new Error('the reader never reached the end of the window');
}

describe('mailgunReader.validateConfig', () => {
  it('returns {} when no API field is set, ignoring the webhook fields', () => {
    expect(mailgunReader.validateConfig({ signing_key: 'whatever' })).toEqual({});
  });

  it('defaults the base URL to the US API and normalises the fields', () => {
    expect(
      mailgunReader.validateConfig({ signing_key: 's', api_key: ` ${API_KEY} `, domain: 'MG.Example.com' }),
    ).toEqual({
      api_key: API_KEY,
      api_base_url: 'https://api.mailgun.net',
      domain: 'mg.example.com',
    });
    expect(mailgunReader.defaultBaseUrl).toBe('https://api.mailgun.net');
  });

  it('takes the EU base URL, without its trailing slash', () => {
    const checked = mailgunReader.validateConfig({
      api_key: API_KEY,
      domain: DOMAIN,
      api_base_url: 'https://api.eu.mailgun.net/',
    });
    expect(checked.api_base_url).toBe('https://api.eu.mailgun.net');
  });

  it('accepts plain http only on the loopback', () => {
    const base = { api_key: API_KEY, domain: DOMAIN };
    expect(
      mailgunReader.validateConfig({ ...base, api_base_url: 'http://127.0.0.1:8080' }).api_base_url,
    ).toBe('http://127.0.0.1:8080');
    expect(mailgunReader.validateConfig({ ...base, api_base_url: 'http://localhost:9' }).api_base_url).toBe(
      'http://localhost:9',
    );
    for (const bad of [
      'http://api.mailgun.net',
      'ftp://127.0.0.1',
      'not a url',
      'https://u:p@api.mailgun.net',
    ]) {
      expect(() => mailgunReader.validateConfig({ ...base, api_base_url: bad })).toThrow(MailhookError);
    }
  });

  it('needs api_key and domain as soon as one API field is given, without echoing the key', () => {
    const attempts: Array<Record<string, unknown>> = [
      { domain: DOMAIN },
      { api_base_url: 'https://api.eu.mailgun.net' },
      { api_key: API_KEY },
      { api_key: API_KEY, domain: 'https://sample.mailgun.com/' },
      { api_key: 'two words', domain: DOMAIN },
    ];
    for (const attempt of attempts) {
      let thrown: unknown;
      try {
        mailgunReader.validateConfig(attempt);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(MailhookError);
      expect((thrown as MailhookError).code).toBe('MH_ERR_INVALID_SOURCE_CONFIG');
      expect((thrown as Error).message).not.toContain(API_KEY);
    }
  });
});

describe('mailgunReader.readPage against a fake Events API', () => {
  it('sends HTTP basic auth api:<key> on every request', async () => {
    api.pages = [[eventDataText('delivered')]];
    await readAll();
    expect(api.requests).toHaveLength(2);
    const expected = `Basic ${Buffer.from(`api:${API_KEY}`).toString('base64')}`;
    for (const request of api.requests) expect(request.authorization).toBe(expected);
  });

  it('turns the window into begin/end epoch seconds, ascending, 300 a page', async () => {
    const window = {
      since: new Date('2026-02-03T19:00:00.250Z'),
      until: new Date('2026-02-03T20:00:00.750Z'),
    };
    await readAll(window);
    const [first] = api.requests;
    expect(first?.path).toBe(`/v3/${DOMAIN}/events`);
    expect(Object.fromEntries(first?.query ?? [])).toEqual({
      begin: String(Math.floor(window.since.getTime() / 1000)),
      end: String(Math.ceil(window.until.getTime() / 1000)),
      ascending: 'yes',
      limit: '300',
    });
  });

  it('follows paging.next through three pages and stops at the empty page', async () => {
    api.pages = [
      [eventDataText('delivered'), eventDataText('opened')],
      [eventDataText('clicked')],
      [eventDataText('complained'), eventDataText('list-member-uploaded')],
    ];
    const result = await readAll();
    expect(result.pages).toBe(4);
    expect(api.requests.map((r) => r.path)).toEqual([
      `/v3/${DOMAIN}/events`,
      `/v3/${DOMAIN}/events/page-1`,
      `/v3/${DOMAIN}/events/page-2`,
      `/v3/${DOMAIN}/events/page-3`,
    ]);
    expect(result.events.map((e) => e.type)).toEqual([
      'email.delivered',
      'email.opened',
      'email.clicked',
      'email.complained',
    ]);
    // list_member_uploaded is not an email event: counted, as the webhook adapter skips it too.
    expect(result.skipped).toBe(1);
  });

  it('answers an empty first page with no events and no next page', async () => {
    const page = await mailgunReader.readPage({ config, window: WINDOW, cursor: null, get: fetchGet });
    expect(page).toEqual({ events: [], skipped: 0, next: null });
  });

  it('drops items outside the window (begin/end are widened to whole seconds)', async () => {
    const window = { since: new Date('2026-02-03T19:20:31.700Z'), until: new Date('2026-02-04T06:00:00Z') };
    // delivered.json happened at 19:20:31.659, before `since`; opened.json later.
    api.pages = [[eventDataText('delivered'), eventDataText('opened')]];
    const result = await readAll(window);
    expect(result.events.map((e) => e.type)).toEqual(['email.opened']);
  });

  it('makes no request for an empty window', async () => {
    const page = await mailgunReader.readPage({
      config,
      window: { since: WINDOW.since, until: WINDOW.since },
      cursor: null,
      get: fetchGet,
    });
    expect(page.next).toBeNull();
    expect(api.requests).toHaveLength(0);
  });

  it('throws ReaderHttpError with retryAfterMs for 429 and Retry-After', async () => {
    api.answerWith({ status: 429, headers: { 'retry-after': '7' }, body: '{"message":"Too many requests"}' });
    const error = await mailgunReader
      .readPage({ config, window: WINDOW, cursor: null, get: fetchGet })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderHttpError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 7000 });
    expect((error as Error).message).toContain('Too many requests');
  });

  it('reads Mailgun\'s documented rate-limit body {"retry-seconds": N} when there is no Retry-After', async () => {
    api.answerWith({ status: 429, body: '{"retry-seconds": 60}' });
    const error = await mailgunReader
      .readPage({ config, window: WINDOW, cursor: null, get: fetchGet })
      .catch((err: unknown) => err);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 60_000 });
  });

  it('throws ReaderHttpError for a 500, without a wait', async () => {
    api.answerWith({ status: 500, body: '{"message":"Internal error"}' });
    const error = await mailgunReader
      .readPage({ config, window: WINDOW, cursor: null, get: fetchGet })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderHttpError);
    expect(error).toMatchObject({ status: 500, retryAfterMs: null });
  });

  it('throws ReaderHttpError 401 for a wrong key, and the message does not carry the key', async () => {
    const wrong = { ...config, apiKey: 'key-wrong0000000000000000000000000000' };
    const error = await mailgunReader
      .readPage({ config: wrong, window: WINDOW, cursor: null, get: fetchGet })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderHttpError);
    expect(error).toMatchObject({ status: 401 });
    expect((error as Error).message).not.toContain(wrong.apiKey);
  });

  it('throws ReaderFormatError for a body that is not JSON or not the documented shape', async () => {
    const bodies = [
      '{"items": [',
      '<html>maintenance</html>',
      '{"paging": {}}',
      '{"items": [{"event": "delivered"}], "paging": {}}',
      '{"items": ["delivered"], "paging": {"next": "x"}}',
    ];
    api.answerWith(...bodies.map((body) => ({ status: 200, body })));
    for (const body of bodies) {
      const error = await mailgunReader
        .readPage({ config, window: WINDOW, cursor: null, get: fetchGet })
        .catch((err: unknown) => err);
      expect(error, body).toBeInstanceOf(ReaderFormatError);
    }
  });

  it('throws ReaderFormatError for an item without the fields Mailgun documents on every event', async () => {
    api.pages = [['{"event": "delivered", "id": "abc"}']];
    const error = await mailgunReader
      .readPage({ config, window: WINDOW, cursor: null, get: fetchGet })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderFormatError);
  });

  it('refuses a next URL on another origin, and never sends the key there', async () => {
    const elsewhere = await FakeMailgunEventsApi.start({ apiKey: API_KEY, domain: DOMAIN });
    try {
      api.pages = [[eventDataText('delivered')]];
      // Same host, other port: another origin all the same.
      api.pageOrigin = elsewhere.baseUrl;
      const error = await mailgunReader
        .readPage({ config, window: WINDOW, cursor: null, get: fetchGet })
        .catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ReaderFormatError);
      // A stored cursor pointing elsewhere is refused before any request.
      const viaCursor = await mailgunReader
        .readPage({
          config,
          window: WINDOW,
          cursor: `${elsewhere.baseUrl}/v3/${DOMAIN}/events/page-1`,
          get: fetchGet,
        })
        .catch((err: unknown) => err);
      expect(viaCursor).toBeInstanceOf(ReaderFormatError);
      expect(elsewhere.requests).toHaveLength(0);
      expect(api.requests).toHaveLength(1);
    } finally {
      await elsewhere.close();
    }
  });

  it('uses the EU base URL when configured, and the US one by default', async () => {
    const seen: string[] = [];
    const recording: HttpGet = async (url) => {
      seen.push(url);
      return { status: 200, headers: {}, text: '{"items": [], "paging": {}}' };
    };
    for (const given of [{ api_base_url: 'https://api.eu.mailgun.net' }, {}]) {
      const checked = mailgunReader.validateConfig({ api_key: API_KEY, domain: DOMAIN, ...given });
      const readerConfig = {
        apiKey: checked.api_key as string,
        apiBaseUrl: checked.api_base_url as string,
        domain: checked.domain as string,
      };
      await mailgunReader.readPage({ config: readerConfig, window: WINDOW, cursor: null, get: recording });
    }
    expect(seen.map((url) => new URL(url).origin)).toEqual([
      'https://api.eu.mailgun.net',
      'https://api.mailgun.net',
    ]);
    expect(new URL(seen[0] ?? '').pathname).toBe(`/v3/${DOMAIN}/events`);
  });
});

describe('the same event read from the Events API and posted as a webhook', () => {
  const expected = JSON.parse(fixtureText('expected')) as Record<
    string,
    { type: string; timestamp: string; dedupKey: string; data: Record<string, unknown> }
  >;
  const cases = [
    'delivered',
    'failed-permanent-bounce',
    'failed-temporary',
    'opened',
    'clicked',
    'complained',
    'unsubscribed',
    'accepted',
    'rejected',
    'failed-suppress-bounce',
    'failed-old',
    'opened-bot',
  ];

  it.each(cases)('%s maps to exactly the same ParsedEvent', async (name) => {
    const webhook = viaWebhook(fixtureText(name));
    expect(webhook).toHaveLength(1);
    api.pages = [[eventDataText(name)]];
    const { events } = await readAll();
    expect(events).toEqual(webhook);
    // And both are what the fixture is documented to produce (so two equally wrong paths would fail).
    const { raw: _raw, ...data } = events[0]?.data ?? {};
    const want = expected[name];
    expect(want).toBeDefined();
    expect({
      type: events[0]?.type,
      timestamp: events[0]?.timestamp.toISOString(),
      dedupKey: events[0]?.dedupKey,
      data,
    }).toEqual(want);
  });

  it('keeps integers beyond 2^53 in user-variables exactly as the webhook does', async () => {
    const eventData =
      '{"event":"delivered","id":"bigIntVariableEvt0001","timestamp":1770146431.6585283,' +
      '"recipient":"recipient@sample.mailgun.com","message":{"headers":{"message-id":"big@sample.mailgun.com"}},' +
      '"tags":[],"user-variables":{"order_id":12345678901234567890}}';
    const webhook = viaWebhook(
      `{"signature":{"timestamp":"1770146432","token":"t","signature":"s"},"event-data":${eventData}}`,
    );
    api.pages = [[eventData]];
    const { events } = await readAll();
    expect(events).toEqual(webhook);
    expect(events[0]?.data.metadata).toEqual({ order_id: '12345678901234567890' });
  });
});
