import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../../../src/events.js';
import { sparkpost } from '../../../src/providers/sparkpost.js';
import { sparkpostReader } from '../../../src/reconcile/sparkpost.js';
import {
  type HttpGet,
  ReaderFormatError,
  ReaderHttpError,
  type ReaderPage,
  type ReadWindow,
} from '../../../src/reconcile/types.js';
import { rawRequest } from '../../helpers/adapter-request.js';
import { type FakeSparkPost, httpGet, startFakeSparkPost } from './sparkpost-fake-api.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/sparkpost');
const API_KEY = '14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf';
/** Covers every fixture: they are dated 2016-04-18T14:25:07Z onwards (spam_complaint a day later). */
const FIXTURE_WINDOW: ReadWindow = {
  since: new Date('2016-04-18T00:00:00Z'),
  until: new Date('2016-04-20T00:00:00Z'),
};

type ApiEvent = Record<string, unknown>;

/** The webhook element(s) of a fixture, and what the webhook adapter makes of them. */
function webhookPath(name: string): {
  elements: Array<{ msys: Record<string, ApiEvent> }>;
  events: ParsedEvent[];
} {
  const text = readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
  return {
    elements: JSON.parse(text) as Array<{ msys: Record<string, ApiEvent> }>,
    events: sparkpost.parse(rawRequest(text)).events,
  };
}

/** The event object inside a single-element fixture, as the Events API returns it (flat). */
function apiEvent(name: string): ApiEvent {
  const inner = Object.values(webhookPath(name).elements[0]!.msys)[0];
  if (!inner) throw new Error(`${name}.json has no event`);
  return inner;
}

async function readAll(
  fake: FakeSparkPost,
  window: ReadWindow = FIXTURE_WINDOW,
): Promise<{ pages: ReaderPage[]; events: ParsedEvent[]; skipped: number }> {
  const pages: ReaderPage[] = [];
  let cursor: string | null = null;
  do {
    const page: ReaderPage = await sparkpostReader.readPage({
      config: { apiKey: API_KEY, apiBaseUrl: fake.baseUrl },
      window,
      cursor,
      get: httpGet,
    });
    pages.push(page);
    cursor = page.next;
    if (pages.length > 50) throw new Error('the reader never reached the end');
  } while (cursor !== null);
  return {
    pages,
    events: pages.flatMap((p) => p.events),
    skipped: pages.reduce((n, p) => n + p.skipped, 0),
  };
}

async function readFirst(fake: FakeSparkPost, apiKey = API_KEY): Promise<ReaderPage> {
  return sparkpostReader.readPage({
    config: { apiKey, apiBaseUrl: fake.baseUrl },
    window: FIXTURE_WINDOW,
    cursor: null,
    get: httpGet,
  });
}

describe('sparkpostReader.validateConfig', () => {
  it('returns {} when no API field is set, also next to the webhook credentials', () => {
    expect(sparkpostReader.validateConfig({})).toEqual({});
    expect(
      sparkpostReader.validateConfig({ basic_auth: { username: 'u', password: 'p'.repeat(12) } }),
    ).toEqual({});
  });

  it('defaults the base to the US API and normalises an EU base pasted with /api/v1/', () => {
    expect(sparkpostReader.validateConfig({ api_key: API_KEY })).toEqual({
      api_key: API_KEY,
      api_base_url: 'https://api.sparkpost.com',
    });
    expect(
      sparkpostReader.validateConfig({
        api_key: API_KEY,
        api_base_url: 'https://api.eu.sparkpost.com/api/v1/',
      }),
    ).toEqual({ api_key: API_KEY, api_base_url: 'https://api.eu.sparkpost.com' });
    expect(
      sparkpostReader.validateConfig({ api_key: API_KEY, api_base_url: 'http://127.0.0.1:8025' })
        .api_base_url,
    ).toBe('http://127.0.0.1:8025');
  });

  it.each([
    [{ api_base_url: 'https://api.eu.sparkpost.com' }, /api_key is required/],
    [{ api_key: '' }, /api_key/],
    [{ api_key: 'abc\r\nX-Injected: 1' }, /api_key/],
    [{ api_key: API_KEY, api_base_url: 'http://api.sparkpost.com' }, /https/],
    [{ api_key: API_KEY, api_base_url: 'not a url' }, /not a URL/],
    [{ api_key: API_KEY, api_base_url: 'https://user:pw@api.sparkpost.com' }, /credentials/],
    [{ api_key: API_KEY, domain: 'mg.example.com' }, /domain is for Mailgun/],
  ])('refuses %j', (config, message) => {
    expect(() => sparkpostReader.validateConfig(config)).toThrow(
      expect.objectContaining({
        code: 'MH_ERR_INVALID_SOURCE_CONFIG',
        message: expect.stringMatching(message),
      }),
    );
  });

  it('describes the US API and its 10-day retention', () => {
    expect(sparkpostReader.provider).toBe('sparkpost');
    expect(sparkpostReader.defaultBaseUrl).toBe('https://api.sparkpost.com');
    expect(sparkpostReader.retentionMs).toBe(10 * 24 * 60 * 60 * 1000);
  });
});

describe('sparkpostReader.readPage against a local Events API', () => {
  let fake: FakeSparkPost;

  beforeEach(async () => {
    fake = await startFakeSparkPost(API_KEY);
  });

  afterEach(async () => {
    await fake.close();
  });

  it('sends the bare API key as Authorization (no Bearer) to GET /api/v1/events/message', async () => {
    fake.events = [apiEvent('delivery')];
    const page = await readFirst(fake);
    expect(page.events).toHaveLength(1);
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.headers.authorization).toBe(API_KEY);
    expect(request?.headers.accept).toBe('application/json');
    expect(request?.url.pathname).toBe('/api/v1/events/message');
    expect(request?.url.searchParams.get('cursor')).toBe('initial');
    expect(request?.url.searchParams.get('per_page')).toBe('10000');
  });

  it('asks for the window in whole UTC seconds and keeps only the events inside it', async () => {
    const base = apiEvent('delivery');
    const at = (id: string, iso: string): ApiEvent => ({
      ...base,
      event_id: id,
      timestamp: String(Date.parse(iso) / 1000),
    });
    fake.events = [
      at('1', '2026-12-05T09:59:59Z'),
      at('2', '2026-12-05T10:00:00Z'), // before since (10:00:00.500), inside the API's whole second
      at('3', '2026-12-05T10:00:01Z'),
      at('4', '2026-12-05T10:05:00Z'), // before until (10:05:00.250)
      at('5', '2026-12-05T10:05:01Z'),
    ];
    const page = await sparkpostReader.readPage({
      config: { apiKey: API_KEY, apiBaseUrl: fake.baseUrl },
      window: { since: new Date('2026-12-05T10:00:00.500Z'), until: new Date('2026-12-05T10:05:00.250Z') },
      cursor: null,
      get: httpGet,
    });
    const query = fake.requests[0]?.url.searchParams;
    expect(query?.get('from')).toBe('2026-12-05T10:00:00Z');
    expect(query?.get('to')).toBe('2026-12-05T10:05:01Z');
    expect(page.events.map((e) => e.dedupKey)).toEqual(['3', '4']);
    expect(page.skipped).toBe(0);
    expect(page.next).toBeNull();
  });

  it('follows links.next page by page to the end, on the same origin', async () => {
    const names = ['injection', 'delivery', 'bounce', 'open', 'click', 'spam_complaint', 'list_unsubscribe'];
    fake.events = names.map(apiEvent);
    fake.pageSize = 3;
    const { pages, events } = await readAll(fake);
    expect(pages.map((p) => p.events.length)).toEqual([3, 3, 1]);
    expect(pages.at(-1)?.next).toBeNull();
    expect(pages[0]?.next?.startsWith(`${fake.baseUrl}/api/v1/events/message?`)).toBe(true);
    expect(events.map((e) => e.dedupKey)).toEqual(fake.events.map((e) => e.event_id));
    expect(fake.requests.map((r) => r.url.searchParams.get('cursor'))).toEqual([
      'initial',
      Buffer.from('3').toString('base64'),
      Buffer.from('6').toString('base64'),
    ]);
    // The link carries the original filters; every page is read with the key.
    for (const request of fake.requests) {
      expect(request.headers.authorization).toBe(API_KEY);
      expect(request.url.searchParams.get('from')).toBe('2016-04-18T00:00:00Z');
    }
  });

  it('turns a 429 into ReaderHttpError with Retry-After in milliseconds', async () => {
    fake.override = () => ({
      status: 429,
      headers: { 'retry-after': '3' },
      body: JSON.stringify({ errors: [{ message: 'Too many requests' }] }),
    });
    const error = await readFirst(fake).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderHttpError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 3000 });
    expect((error as Error).message).toContain('Too many requests');
  });

  it('turns a 429 without Retry-After (SparkPost documents none) into retryAfterMs null', async () => {
    fake.override = () => ({ status: 429, body: '{"errors":[{"message":"Too many requests"}]}' });
    await expect(readFirst(fake)).rejects.toMatchObject({ status: 429, retryAfterMs: null });
  });

  it('turns a 500 into ReaderHttpError', async () => {
    fake.override = () => ({ status: 500, body: '<html>oops</html>' });
    const error = await readFirst(fake).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderHttpError);
    expect(error).toMatchObject({
      status: 500,
      retryAfterMs: null,
      message: 'SparkPost Events API answered 500',
    });
  });

  it('turns a refused key into ReaderHttpError 401 without repeating the key', async () => {
    const wrongKey = 'ffffffffffffffffffffffffffffffffffffffff';
    const error = await readFirst(fake, wrongKey).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderHttpError);
    expect(error).toMatchObject({ status: 401 });
    expect((error as Error).message).toContain('Unauthorized');
    expect((error as Error).message).not.toContain(wrongKey);
  });

  it.each([
    ['a body that is not JSON', '{"results": [', /not JSON/],
    ['a body without results', '{"total_count": 0, "links": {}}', /results/],
    ['an item without a type', '{"results": [{"event_id": "1"}], "total_count": 1, "links": {}}', /type/],
    ['a non-string next link', '{"results": [], "total_count": 0, "links": {"next": 7}}', /links\.next/],
  ])('turns %s into ReaderFormatError', async (_what, body, message) => {
    fake.override = () => ({ status: 200, body });
    const error = await readFirst(fake).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReaderFormatError);
    expect((error as Error).message).toMatch(message);
  });

  it('turns an event the webhook adapter could not read into ReaderFormatError naming its event_id', async () => {
    const { rcpt_to: _to, raw_rcpt_to: _raw, ...noRecipient } = apiEvent('delivery');
    fake.events = [noRecipient];
    await expect(readFirst(fake)).rejects.toThrow(
      new ReaderFormatError(
        'SparkPost Events API results[0] (event_id 92356927693813857): element 0: "rcpt_to" is missing',
      ),
    );
  });

  it('refuses a next link on another origin and sends the key nowhere else', async () => {
    const elsewhere = await startFakeSparkPost(API_KEY);
    try {
      for (const next of [
        `${elsewhere.baseUrl}/api/v1/events/message?cursor=abc`,
        'https://api.eu.sparkpost.com/api/v1/events/message?cursor=abc',
        '//evil.example/api/v1/events/message?cursor=abc',
      ]) {
        fake.override = () => ({
          status: 200,
          body: JSON.stringify({ results: [apiEvent('delivery')], total_count: 2, links: { next } }),
        });
        await expect(readFirst(fake)).rejects.toThrow(ReaderFormatError);
      }
      // A stored cursor from another origin (the base changed since) is refused before any request.
      const seen: string[] = [];
      const spy: HttpGet = async (url, headers) => {
        seen.push(url);
        return httpGet(url, headers);
      };
      await expect(
        sparkpostReader.readPage({
          config: { apiKey: API_KEY, apiBaseUrl: fake.baseUrl },
          window: FIXTURE_WINDOW,
          cursor: `${elsewhere.baseUrl}/api/v1/events/message?cursor=abc`,
          get: spy,
        }),
      ).rejects.toThrow(ReaderFormatError);
      expect(seen).toEqual([]);
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  it('reads the EU API when the base says so', async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = [];
    // No request leaves the machine: the EU answer is the documented empty page.
    const eu: HttpGet = async (url, headers) => {
      seen.push({ url, headers });
      return { status: 200, headers: {}, text: '{"results": [], "total_count": 0, "links": {}}' };
    };
    const config = sparkpostReader.validateConfig({
      api_key: API_KEY,
      api_base_url: 'https://api.eu.sparkpost.com',
    });
    const page = await sparkpostReader.readPage({
      config: { apiKey: String(config.api_key), apiBaseUrl: String(config.api_base_url) },
      window: FIXTURE_WINDOW,
      cursor: null,
      get: eu,
    });
    expect(page).toEqual({ events: [], skipped: 0, next: null });
    expect(seen).toHaveLength(1);
    expect(new URL(seen[0]!.url).origin).toBe('https://api.eu.sparkpost.com');
    expect(new URL(seen[0]!.url).pathname).toBe('/api/v1/events/message');
    expect(seen[0]!.headers.authorization).toBe(API_KEY);
  });

  it('counts types mailhook does not map (SMS, relay, future types) as skipped', async () => {
    fake.events = [
      apiEvent('sms_status'),
      { ...apiEvent('delivery'), type: 'relay_delivery', event_id: 'r1' },
      { ...apiEvent('delivery'), type: 'some_future_event', event_id: 'f1' },
      apiEvent('click'),
    ];
    const { events, skipped } = await readAll(fake);
    expect(skipped).toBe(3);
    expect(events.map((e) => e.type)).toEqual(['email.clicked']);
  });
});

describe('the same SparkPost event by webhook and by Events API', () => {
  let fake: FakeSparkPost;

  beforeEach(async () => {
    fake = await startFakeSparkPost(API_KEY);
  });

  afterEach(async () => {
    await fake.close();
  });

  const FIXTURE_NAMES = [
    'injection',
    'delivery',
    'bounce',
    'bounce-block',
    'out_of_band',
    'delay',
    'policy_rejection',
    'generation_rejection',
    'generation_failure',
    'spam_complaint',
    'open',
    'initial_open',
    'amp_open',
    'amp_initial_open',
    'click',
    'amp_click',
    'list_unsubscribe',
    'link_unsubscribe',
  ];

  it('maps to deep-equal events (type, timestamp, dedup key, data) across pages', async () => {
    const byWebhook = FIXTURE_NAMES.flatMap((name) => webhookPath(name).events);
    // Checks the comparison covers what it claims, not an empty or one-sided set.
    expect(byWebhook).toHaveLength(FIXTURE_NAMES.length);
    const kinds = new Set(byWebhook.map((e) => `${e.type}/${e.data.bounce?.type ?? ''}`));
    for (const kind of [
      'email.sent/',
      'email.delivered/',
      'email.bounced/hard',
      'email.bounced/soft',
      'email.deferred/',
      'email.dropped/undetermined',
      'email.failed/',
      'email.complained/',
      'email.opened/',
      'email.clicked/',
      'email.unsubscribed/',
    ]) {
      expect(kinds).toContain(kind);
    }

    fake.events = FIXTURE_NAMES.map(apiEvent);
    fake.pageSize = 5;
    const { pages, events: byApi, skipped } = await readAll(fake);
    expect(pages).toHaveLength(4);
    expect(skipped).toBe(0);
    expect(byApi).toHaveLength(byWebhook.length);
    for (const [i, event] of byApi.entries()) {
      const webhook = byWebhook[i]!;
      expect({ name: FIXTURE_NAMES[i], ...event }).toEqual({ name: FIXTURE_NAMES[i], ...webhook });
    }
  });

  it('maps the API form of the timestamp (ISO 8601, UTC) to the same instant and dedup key', async () => {
    const names = ['delivery', 'bounce', 'initial_open', 'link_unsubscribe'];
    const byWebhook = names.flatMap((name) => webhookPath(name).events);
    fake.events = names.map((name) => {
      const event = apiEvent(name);
      const iso = new Date(Number(event.timestamp) * 1000).toISOString().replace('Z', '+00:00');
      return { ...event, timestamp: iso };
    });
    const { events: byApi } = await readAll(fake);
    expect(byApi).toHaveLength(names.length);
    for (const [i, event] of byApi.entries()) {
      const { raw: apiRaw, ...apiData } = event.data;
      const { raw: _webhookRaw, ...webhookData } = byWebhook[i]!.data;
      expect(event.type).toBe(byWebhook[i]!.type);
      expect(event.timestamp).toEqual(byWebhook[i]!.timestamp);
      expect(event.dedupKey).toBe(byWebhook[i]!.dedupKey);
      expect(apiData).toEqual(webhookData);
      // raw is the element the webhook would have posted, holding the API item as read.
      expect(Object.values((apiRaw as { msys: Record<string, unknown> }).msys)).toEqual([fake.events[i]]);
    }
  });
});
