import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../../src/errors.js';
import { mandrill, mandrillSignature } from '../../../src/providers/mandrill.js';
import type { RawRequest, Source } from '../../../src/providers/types.js';
import { adapterSource, rawRequest } from '../../helpers/adapter-request.js';
import { verifyContext } from '../../helpers/verify-context.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures');
const INGEST_URL = 'https://hooks.example.com/ingest/src_test';
const KEY = 'Qm9ndXNLZXlGb3JUZXN0c09ubHk';

interface Vector {
  key: string;
  cases: Array<{ note: string; url: string; body: string; signature: string }>;
}
const VECTOR = JSON.parse(
  readFileSync(join(FIXTURES, 'vectors/mandrill/vector-constructed-python.json'), 'utf8'),
) as Vector;

function fixture(name: string): Record<string, unknown>[] {
  return JSON.parse(readFileSync(join(FIXTURES, 'mandrill', `${name}.json`), 'utf8'));
}

function source(config: Record<string, unknown> = { webhook_key: KEY }): Source {
  return adapterSource(mandrill, config);
}

/** The form body Mandrill posts: PHP's json_encode escapes "/", http_build_query encodes spaces as "+". */
function formBody(events: unknown[]): string {
  return new URLSearchParams({ mandrill_events: JSON.stringify(events).replaceAll('/', '\\/') }).toString();
}

/** Signs like Mandrill, written from the documented steps, independently of the adapter. */
function sign(body: string, url = INGEST_URL, key = KEY): string {
  const fields = [...new URLSearchParams(body)].sort(([a], [b]) => (a < b ? -1 : 1));
  const data = url + fields.map(([name, value]) => name + value).join('');
  return createHmac('sha1', key).update(data, 'utf8').digest('base64');
}

function request(body: string, headers: Record<string, string> = {}, query = ''): RawRequest {
  return rawRequest(body, { 'content-type': 'application/x-www-form-urlencoded', ...headers }, { query });
}

function signed(events: unknown[]): RawRequest {
  const body = formBody(events);
  return request(body, { 'x-mandrill-signature': sign(body) });
}

const ctx = verifyContext({ ingestUrl: INGEST_URL });

describe('Mandrill signature verification', () => {
  it('reproduces every constructed vector with the adapter signer and verify()', () => {
    for (const vector of VECTOR.cases) {
      const fields = [...new URLSearchParams(vector.body)];
      expect(mandrillSignature(VECTOR.key, vector.url, fields), vector.note).toBe(vector.signature);
      const withUrl = source({ webhook_key: VECTOR.key, url: vector.url });
      const req = request(vector.body, { 'x-mandrill-signature': vector.signature });
      expect(mandrill.verify(req, withUrl, ctx), vector.note).toEqual({ ok: true });
    }
  });

  it('signs the ingest URL with the query string the request arrived with when config.url is unset', () => {
    const vector = VECTOR.cases.find((c) => c.url.includes('?'));
    if (!vector) throw new Error('vector with a query string missing');
    const [base, query] = vector.url.split('?') as [string, string];
    const req = request(vector.body, { 'x-mandrill-signature': vector.signature }, query);
    const plain = source({ webhook_key: VECTOR.key });
    expect(mandrill.verify(req, plain, verifyContext({ ingestUrl: base }))).toEqual({ ok: true });
  });

  it('accepts a signed batch whatever its age, since Mandrill signs no timestamp', () => {
    const req = signed(fixture('send'));
    const late = verifyContext({ ingestUrl: INGEST_URL, now: new Date('2035-01-01T00:00:00Z') });
    expect(mandrill.verify(req, source(), late)).toEqual({ ok: true });
  });

  it('refuses a tampered body, a wrong key, another URL, a missing header and a source without key', () => {
    const body = formBody(fixture('hard_bounce'));
    const signature = sign(body);
    const ok = mandrill.verify(request(body, { 'x-mandrill-signature': signature }), source(), ctx);
    expect(ok).toEqual({ ok: true });
    const tampered = body.replace('example.webhook', 'someone.else');
    const cases: Array<[RawRequest, Source]> = [
      [request(tampered, { 'x-mandrill-signature': signature }), source()],
      [request(body, { 'x-mandrill-signature': sign(body, INGEST_URL, 'another-key') }), source()],
      [request(body, { 'x-mandrill-signature': sign(body, `${INGEST_URL}/`) }), source()],
      [
        request(body, { 'x-mandrill-signature': signature }),
        source({ webhook_key: KEY, url: `${INGEST_URL}/` }),
      ],
      [request(body), source()],
      [request(body, { 'x-mandrill-signature': signature }), source({})],
    ];
    for (const [req, src] of cases) {
      const result = mandrill.verify(req, src, ctx);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).not.toContain(KEY);
    }
  });

  it('refuses a body that repeats a form field, since its signature would be ambiguous', () => {
    const body = `${formBody([])}&mandrill_events=%5B%5D`;
    const result = mandrill.verify(request(body, { 'x-mandrill-signature': sign(body) }), source(), ctx);
    expect(result).toEqual({ ok: false, reason: 'repeated form field' });
  });

  it('lets the HEAD URL check through to a handshake that answers 200 and stores nothing', async () => {
    const head = { ...request(''), method: 'HEAD', headers: {} };
    expect(mandrill.verify(head, source({}), ctx)).toEqual({ ok: true });
    expect(await mandrill.handshake(head)).toEqual({ status: 200, body: { status: 'ok' }, store: false });
    expect(await mandrill.handshake(signed(fixture('send')))).toBeNull();
  });

  it('verifies the empty test batch and parses it into no events', () => {
    const req = signed(fixture('empty'));
    expect(mandrill.verify(req, source(), ctx)).toEqual({ ok: true });
    expect(mandrill.parse(req)).toEqual({ events: [], skipped: [] });
  });
});

describe('Mandrill source config', () => {
  it('accepts a source without key yet, and keeps config.url verbatim', () => {
    expect(mandrill.validateConfig({})).toEqual({});
    expect(mandrill.validateConfig({ webhook_key: ` ${KEY} `, url: 'https://h.example/in/' })).toEqual({
      webhook_key: KEY,
      url: 'https://h.example/in/',
    });
  });

  it('rejects an empty key, a non-string key and a URL that is not absolute http(s)', () => {
    expect(() => mandrill.validateConfig({ webhook_key: '' })).toThrow(/config.webhook_key/);
    expect(() => mandrill.validateConfig({ webhook_key: 42 })).toThrow(/config.webhook_key/);
    expect(() => mandrill.validateConfig({ webhook_key: KEY, url: '/ingest/x' })).toThrow(/config.url/);
    expect(() => mandrill.validateConfig({ webhook_key: KEY, url: 'ftp://h.example/x' })).toThrow(
      /config.url/,
    );
    expect(() => mandrill.validateConfig('key')).toThrow(/config object/);
  });
});

const EXPECTED = {
  send: { type: 'email.sent', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa' },
  deferral: { type: 'email.deferred', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa1' },
  hard_bounce: { type: 'email.bounced', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa2' },
  soft_bounce: { type: 'email.bounced', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa3' },
  open: { type: 'email.opened', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa4' },
  click: { type: 'email.clicked', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa5' },
  spam: { type: 'email.complained', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa6' },
  unsub: { type: 'email.unsubscribed', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa7' },
  reject: { type: 'email.dropped', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa8' },
  delivered: { type: 'email.delivered', id: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa9' },
} as const;

describe('Mandrill parsing', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`maps the documented "${name}" event to ${expected.type}`, () => {
      const events = fixture(name);
      const { events: parsed, skipped } = mandrill.parse(signed(events));
      expect(skipped).toEqual([]);
      expect(parsed).toHaveLength(1);
      const event = parsed[0]!;
      expect(event.type).toBe(expected.type);
      expect(event.timestamp.toISOString()).toBe('2020-02-03T20:34:34.000Z');
      expect(event.data).toMatchObject({
        provider_event_id: null,
        message_id: expected.id,
        recipient: 'example.webhook@mandrillapp.com',
        tags: ['webhook-example'],
        metadata: { user_id: 111 },
        raw: events[0],
      });
      const url =
        name === 'click' ? `:${createHash('sha256').update('http://mandrill.com').digest('hex')}` : '';
      expect(event.dedupKey).toBe(`${expected.id}:${name}:1580762074${url}`);
      if (!['hard_bounce', 'soft_bounce', 'reject'].includes(name)) expect(event.data.bounce).toBeUndefined();
    });
  }

  it('classifies hard and soft bounces with the SMTP code and diagnostic', () => {
    const hard = mandrill.parse(signed(fixture('hard_bounce'))).events[0];
    expect(hard?.data.bounce).toEqual({
      type: 'hard',
      code: '5.1.1',
      reason: expect.stringMatching(/^smtp;550 5\.1\.1 The email account/),
    });
    const soft = mandrill.parse(signed(fixture('soft_bounce'))).events[0];
    expect(soft?.data.bounce).toEqual({ type: 'soft', code: '5.2.2', reason: 'smtp;552 5.2.2 Over Quota' });
  });

  it('reports a reject as dropped with an undetermined class when Mandrill gives no reason', () => {
    const reject = mandrill.parse(signed(fixture('reject'))).events[0];
    expect(reject?.data.bounce).toEqual({ type: 'undetermined', code: null, reason: null });
    const denylisted = fixture('reject');
    (denylisted[0]!.msg as Record<string, unknown>).reject = { reason: 'hard-bounce' };
    expect(mandrill.parse(signed(denylisted)).events[0]?.data.bounce?.type).toBe('hard');
  });

  it('reads ip, user agent and click URL from opens and clicks', () => {
    const open = mandrill.parse(signed(fixture('open'))).events[0];
    expect(open?.data).toMatchObject({ ip: '127.0.0.1', open: { machine: false } });
    expect(open?.data.user_agent).toMatch(/Postbox\/1\.1\.3$/);
    const click = mandrill.parse(signed(fixture('click'))).events[0];
    expect(click?.data).toMatchObject({ ip: '127.0.0.1', click: { url: 'http://mandrill.com' } });
    expect(click?.dedupKey).toMatch(/^exampleaaaaaaaaaaaaaaaaaaaaaaaaa5:click:1580762074:[0-9a-f]{64}$/);
    const unsub = mandrill.parse(signed(fixture('unsub'))).events[0];
    expect(unsub?.data.unsubscribe).toEqual({ group: null });
  });

  it('splits a batch into one event per element and skips sync events', () => {
    const batch = fixture('batch-send-test');
    const { events, skipped } = mandrill.parse(signed(batch));
    expect(events.map((e) => e.type)).toEqual([
      'email.sent',
      'email.deferred',
      'email.bounced',
      'email.bounced',
      'email.opened',
      'email.clicked',
      'email.complained',
      'email.unsubscribed',
      'email.dropped',
    ]);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(9);
    expect(skipped).toEqual([
      { index: 9, reason: 'Mandrill sync event "blacklist" (add)' },
      { index: 10, reason: 'Mandrill sync event "whitelist" (add)' },
    ]);
  });

  it('keeps two clicks of the same second apart by URL and lower-cases the recipient', () => {
    const batch = fixture('batch-one-message');
    const { events } = mandrill.parse(signed(batch));
    expect(events).toHaveLength(6);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(6);
    for (const event of events) {
      expect(event.data.recipient).toBe('ada.lovelace@example.com');
      expect(event.data.message_id).toBe('7a5b1c0e9d2f4e6a8b3c1d2e4f6a8b0c');
      expect(event.data.tags).toEqual(['receipt', 'eu']);
    }
    expect(events[3]?.data.click?.url).toBe('https://shop.example/orders/1042');
    expect(events[4]?.data.click?.url).toBe('https://shop.example/help?topic=returns&lang=en');
    // Mandrill serialises empty metadata as [], which is no metadata.
    expect(events[5]?.data.metadata).toEqual({});
    expect(events[1]).toMatchObject({
      type: 'email.delivered',
      dedupKey: `${events[1]?.data.message_id}:delivered:1718035203`,
    });
  });

  it('produces the same dedup keys when the same batch is posted again', () => {
    const batch = fixture('batch-one-message');
    const first = mandrill.parse(signed(batch)).events.map((e) => e.dedupKey);
    const again = mandrill.parse(signed(batch)).events.map((e) => e.dedupKey);
    expect(again).toEqual(first);
  });

  it('skips inbound messages and unknown events instead of failing', () => {
    expect(mandrill.parse(signed(fixture('inbound')))).toEqual({
      events: [],
      skipped: [{ index: 0, reason: 'Mandrill an inbound message is not an email event mailhook maps' }],
    });
    const future = [{ ...fixture('send')[0], event: 'future_event' }];
    expect(mandrill.parse(signed(future)).skipped).toEqual([
      { index: 0, reason: 'Mandrill event "future_event" is not an email event mailhook maps' },
    ]);
  });

  it('throws MalformedPayloadError for bodies it cannot understand', () => {
    const send = fixture('send')[0]!;
    const bodies = [
      'other=1',
      new URLSearchParams({ mandrill_events: '[{"event":' }).toString(),
      new URLSearchParams({ mandrill_events: '{"event":"send"}' }).toString(),
      formBody(['send']),
      formBody([{ msg: send.msg }]),
      formBody([{ ...send, msg: { ...(send.msg as object), email: undefined } }]),
      formBody([{ ...send, _id: undefined, msg: { ...(send.msg as object), _id: undefined } }]),
      formBody([{ ...send, ts: 'yesterday' }]),
    ];
    for (const body of bodies) {
      expect(() => mandrill.parse(request(body)), body).toThrow(MalformedPayloadError);
    }
  });
});

describe('Mandrill setup text', () => {
  it('names the URL to enter and the key to copy', () => {
    const text = mandrill.setup(source(), INGEST_URL);
    expect(text).toContain(`Post To URL: ${INGEST_URL}`);
    expect(text).toContain('config.webhook_key');
    expect(mandrill.setup(source({ url: 'https://proxy.example/m' }), INGEST_URL)).toContain(
      'Post To URL: https://proxy.example/m',
    );
  });
});
