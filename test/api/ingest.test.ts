import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();

async function createSource(app: TestApp, body: Record<string, unknown>) {
  const res = await app.server.inject({ method: 'POST', url: '/v1/sources', headers: AUTH, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; ingest_url: string };
}

async function listAllEvents(app: TestApp, query = ''): Promise<CanonicalEvent[]> {
  const all: CanonicalEvent[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/v1/events?limit=100${query}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await app.server.inject({ method: 'GET', url, headers: AUTH });
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json() as { data: CanonicalEvent[]; next_cursor: string | null };
    all.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

describe('POST /ingest/:sourceId for SendGrid', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    sourceId = (
      await createSource(app, { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } })
    ).id;
  });
  afterEach(async () => app.close());

  function post(body: string | Buffer, headers: Record<string, string>) {
    return app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers, payload: body });
  }

  it('stores a signed batch of N events and lists exactly those N canonical events', async () => {
    const events = sendGridEvents(7);
    const body = sendGridBody(events);
    const res = await post(body, signer.headers(body));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'stored', id: expect.stringMatching(/^in_/) });
    await app.pipeline.runUntilIdle();

    const listed = await listAllEvents(app);
    expect(listed).toHaveLength(7);
    const byId = new Map(listed.map((e) => [e.data.provider_event_id, e]));
    const expectedType: Record<string, string> = {
      processed: 'email.sent',
      delivered: 'email.delivered',
      open: 'email.opened',
      click: 'email.clicked',
      bounce: 'email.bounced',
    };
    for (const original of events) {
      const event = byId.get(original.sg_event_id as string);
      expect(event, String(original.sg_event_id)).toBeDefined();
      expect(event?.id).toMatch(/^evt_/);
      expect(event?.type).toBe(expectedType[original.event as string]);
      expect(event?.data.recipient).toBe(original.email);
      expect(event?.data.message_id).toBe(String(original.sg_message_id).split('.')[0]);
      expect(event?.timestamp).toBe(new Date((original.timestamp as number) * 1000).toISOString());
      expect(event?.data.source_id).toBe(sourceId);
      expect(event?.data.provider).toBe('sendgrid');
      expect(event?.data.raw).toEqual(original);
    }
  });

  it('stores a batch posted twice, and twice concurrently, exactly once', async () => {
    const events = sendGridEvents(5);
    const body = sendGridBody(events);
    expect((await post(body, signer.headers(body))).statusCode).toBe(200);
    await app.pipeline.runUntilIdle();
    const again = await Promise.all([post(body, signer.headers(body)), post(body, signer.headers(body))]);
    expect(again.map((r) => r.statusCode)).toEqual([200, 200]);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals.inserted).toBe(0);
    expect(totals.duplicates).toBe(10);
    expect(await listAllEvents(app)).toHaveLength(5);
    expect(await inboxCount(app)).toBe(3);
  });

  it('stores two concurrent identical batches once even when both reach the pipeline together', async () => {
    const body = sendGridBody(sendGridEvents(4));
    await Promise.all([post(body, signer.headers(body)), post(body, signer.headers(body))]);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 4, duplicates: 4 });
    expect(await app.store.countEvents()).toBe(4);
  });

  it('refuses a wrong signature, a tampered body, a stale timestamp and missing headers with 401, storing nothing', async () => {
    const body = sendGridBody(sendGridEvents(2));
    const other = sendGridSigner();
    const stale = Math.floor(Date.now() / 1000) - 3600;
    const attempts = [
      post(body, other.headers(body)),
      post(body.replace('example.com', 'example.org'), signer.headers(body)),
      post(body, signer.headers(body, stale)),
      post(body, { 'content-type': 'application/json' }),
      post(body, { ...signer.headers(body), 'x-twilio-email-event-webhook-signature': '' }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID', message: expect.any(String) });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('answers 413 to a body over the limit and stores nothing', async () => {
    const small = await testApp({ MAILHOOK_MAX_BODY: '2kb' });
    try {
      const id = (
        await createSource(small, {
          name: 'sg',
          provider: 'sendgrid',
          config: { public_key: signer.publicKey },
        })
      ).id;
      const body = sendGridBody(sendGridEvents(20));
      expect(body.length).toBeGreaterThan(2048);
      const res = await small.server.inject({
        method: 'POST',
        url: `/ingest/${id}`,
        headers: signer.headers(body),
        payload: body,
      });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ code: 'MH_ERR_PAYLOAD_TOO_LARGE', message: expect.any(String) });
      expect(await inboxCount(small)).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('answers 404 alike for unknown, disabled and deleted sources', async () => {
    const body = sendGridBody(sendGridEvents(1));
    const unknown = await app.server.inject({
      method: 'POST',
      url: '/ingest/src_01JDNOSUCHSOURCE000000000',
      headers: signer.headers(body),
      payload: body,
    });
    await app.server.inject({
      method: 'PATCH',
      url: `/v1/sources/${sourceId}`,
      headers: AUTH,
      payload: { enabled: false },
    });
    const disabled = await post(body, signer.headers(body));
    await app.server.inject({ method: 'DELETE', url: `/v1/sources/${sourceId}`, headers: AUTH });
    const deleted = await post(body, signer.headers(body));
    for (const res of [unknown, disabled, deleted]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ code: 'MH_ERR_SOURCE_NOT_FOUND', message: 'No such source' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores a verified but malformed body, answers 200 and quarantines it visibly', async () => {
    const body = '[{"event": "delivered", "email": "a@example.com", "timestamp": 17';
    const res = await post(body, signer.headers(body));
    expect(res.statusCode).toBe(200);
    const inboxId = (res.json() as { id: string }).id;
    const totals = await app.pipeline.runUntilIdle();
    expect(totals.quarantined).toBe(1);

    const list = await app.server.inject({
      method: 'GET',
      url: '/v1/inbox?status=quarantined',
      headers: AUTH,
    });
    expect(list.statusCode).toBe(200);
    const rows = (list.json() as { data: Array<{ id: string; error: string; status: string }> }).data;
    expect(rows).toEqual([
      expect.objectContaining({ id: inboxId, status: 'quarantined', error: 'body is not valid JSON' }),
    ]);

    const one = await app.server.inject({ method: 'GET', url: `/v1/inbox/${inboxId}`, headers: AUTH });
    expect(one.json()).toMatchObject({ body, body_encoding: 'utf8' });
  });

  it('keeps the exact bytes, including a trailing CRLF and non-JSON content types', async () => {
    const body = sendGridBody(sendGridEvents(1));
    const headers: Record<string, string> = {
      ...signer.headers(body),
      'content-type': 'text/plain; charset=utf-8',
    };
    const res = await post(body, headers);
    expect(res.statusCode).toBe(200);
    const row = await app.store.getInboxRow((res.json() as { id: string }).id);
    expect(row?.body.toString('utf8')).toBe(body);
    expect(row?.headers['x-twilio-email-event-webhook-timestamp']).toBe(
      headers['x-twilio-email-event-webhook-timestamp'],
    );
  });

  it('never writes credentials from the Authorization header to the inbox', async () => {
    const body = sendGridBody(sendGridEvents(1));
    const res = await post(body, { ...signer.headers(body), authorization: 'Basic dXNlcjpzZWNyZXQ=' });
    expect(res.statusCode).toBe(200);
    const row = await app.store.getInboxRow((res.json() as { id: string }).id);
    expect(row?.headers.authorization).toBe('[redacted]');
  });

  it('keeps the request headers but not the connection ones (host, accept-encoding, content-length…)', async () => {
    const body = sendGridBody(sendGridEvents(1));
    const res = await post(body, {
      ...signer.headers(body),
      'user-agent': 'SendGrid Event API',
      'accept-encoding': 'gzip',
      'sec-fetch-mode': 'cors',
      'x-request-id': 'abc-123',
    });
    expect(res.statusCode).toBe(200);
    const row = await app.store.getInboxRow((res.json() as { id: string }).id);
    expect(row?.headers).toMatchObject({ 'user-agent': 'SendGrid Event API', 'x-request-id': 'abc-123' });
    expect(row?.headers['content-type']).toMatch(/json/);
    for (const name of ['host', 'accept-encoding', 'sec-fetch-mode', 'content-length'])
      expect(row?.headers, name).not.toHaveProperty(name);
  });

  it('answers 503 and acknowledges nothing when the store cannot commit', async () => {
    const body = sendGridBody(sendGridEvents(1));
    const original = app.store.appendInbox.bind(app.store);
    app.store.appendInbox = async () => {
      throw new Error('disk I/O error');
    };
    const res = await post(body, signer.headers(body));
    app.store.appendInbox = original;
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'MH_ERR_STORE_UNAVAILABLE' });
    expect(await inboxCount(app)).toBe(0);
  });
});

describe('POST /ingest/:sourceId for Standard Webhooks senders', () => {
  it('stores an event signed with the official library once per webhook-id', async () => {
    const { Webhook } = await import('standardwebhooks');
    const app = await testApp();
    try {
      const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      const { id } = await createSource(app, { name: 'std', provider: 'standard', config: { secret } });
      const body = JSON.stringify({
        type: 'email.complained',
        data: { recipient: 'x@example.com', message_id: 'm1' },
      });
      const now = new Date();
      const headers = {
        'content-type': 'application/json',
        'webhook-id': 'msg_42',
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign('msg_42', now, body),
      };
      for (let i = 0; i < 3; i++) {
        const res = await app.server.inject({ method: 'POST', url: `/ingest/${id}`, headers, payload: body });
        expect(res.statusCode).toBe(200);
      }
      await app.pipeline.runUntilIdle();
      const events = await listAllEvents(app);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'email.complained',
        data: { recipient: 'x@example.com', provider: 'standard' },
      });
    } finally {
      await app.close();
    }
  });
});
