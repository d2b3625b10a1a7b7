import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MalformedPayloadError } from '../../src/errors.js';
import type { CanonicalEvent } from '../../src/events.js';
import { sendgrid } from '../../src/providers/sendgrid.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridBody, sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();
const T0 = 1_790_000_000; // 2026-09-21T13:33:20Z

function sgEvent(i: number, event: string, email: string, messageId: string, offsetSec: number) {
  return {
    email,
    timestamp: T0 + offsetSec,
    event,
    sg_event_id: `ev-${i}`,
    sg_message_id: `${messageId}.filterdrecv-1`,
    ...(event === 'bounce' && { type: 'bounce', status: '5.1.1', reason: 'unknown user' }),
  };
}

const EVENTS = [
  sgEvent(1, 'processed', 'a@example.com', 'M1', 0),
  sgEvent(2, 'delivered', 'a@example.com', 'M1', 10),
  sgEvent(3, 'open', 'a@example.com', 'M1', 20),
  sgEvent(4, 'processed', 'B@Example.com', 'M2', 20),
  sgEvent(5, 'bounce', 'b@example.com', 'M2', 30),
  sgEvent(6, 'processed', 'c@example.com', 'M3', 40),
  sgEvent(7, 'delivered', 'c@example.com', 'M3', 40),
];

describe('GET /v1/events', () => {
  let app: TestApp;
  let sourceId: string;
  const get = (url: string) => app.server.inject({ method: 'GET', url, headers: AUTH });
  const data = async (url: string) => {
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: CanonicalEvent[] }).data;
  };

  beforeAll(async () => {
    app = await testApp({ MAILHOOK_SIGNATURE_TOLERANCE: '0' });
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    sourceId = (res.json() as { id: string }).id;
    const body = sendGridBody(EVENTS);
    const ingest = await app.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers: signer.headers(body, T0),
      payload: body,
    });
    expect(ingest.statusCode).toBe(200);
    await app.pipeline.runUntilIdle();
  });
  afterAll(async () => app.close());

  it('lists newest first, ties broken by id descending', async () => {
    const events = await data('/v1/events');
    expect(events).toHaveLength(7);
    for (let i = 1; i < events.length; i++) {
      const prev = events[i - 1] as CanonicalEvent;
      const next = events[i] as CanonicalEvent;
      const order = Date.parse(prev.timestamp) - Date.parse(next.timestamp) || (prev.id > next.id ? 1 : -1);
      expect(order, `${prev.id} before ${next.id}`).toBeGreaterThan(0);
    }
    expect(events.at(-1)?.data.provider_event_id).toBe('ev-1');
  });

  it('filters by type, recipient (case-insensitively), message id, source and time window', async () => {
    expect((await data('/v1/events?type=email.sent')).map((e) => e.data.provider_event_id).sort()).toEqual([
      'ev-1',
      'ev-4',
      'ev-6',
    ]);
    expect(
      (await data('/v1/events?recipient=B@EXAMPLE.COM')).map((e) => e.data.provider_event_id).sort(),
    ).toEqual(['ev-4', 'ev-5']);
    expect((await data('/v1/events?message_id=M3')).map((e) => e.data.provider_event_id).sort()).toEqual([
      'ev-6',
      'ev-7',
    ]);
    expect(await data(`/v1/events?source_id=${sourceId}`)).toHaveLength(7);
    expect(await data('/v1/events?source_id=src_other')).toHaveLength(0);
    const since = new Date((T0 + 20) * 1000).toISOString();
    const until = new Date((T0 + 40) * 1000).toISOString();
    expect(
      (await data(`/v1/events?since=${since}&until=${until}`)).map((e) => e.data.provider_event_id).sort(),
    ).toEqual(['ev-3', 'ev-4', 'ev-5']);
    expect((await data(`/v1/events?since=${T0 + 40}`)).map((e) => e.data.provider_event_id).sort()).toEqual([
      'ev-6',
      'ev-7',
    ]);
    expect(await data('/v1/events?type=email.bounced&recipient=b@example.com&message_id=M2')).toHaveLength(1);
  });

  it('pages with an opaque cursor through every event exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/v1/events?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const page = res.json() as { data: CanonicalEvent[]; next_cursor: string | null };
      seen.push(...page.data.map((e) => e.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(7);
  });

  it('returns one event by id, and a coded 404 for an unknown id', async () => {
    const [first] = await data('/v1/events?limit=1');
    const res = await get(`/v1/events/${first?.id}`);
    expect(res.json()).toEqual(first);
    const missing = await get('/v1/events/evt_nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'MH_ERR_EVENT_NOT_FOUND' });
  });

  it('refuses a bad cursor, a bad time and an out-of-range limit with coded 400s', async () => {
    expect((await get('/v1/events?cursor=garbage')).json()).toMatchObject({ code: 'MH_ERR_INVALID_CURSOR' });
    // The inbox and a delivery list page by the last id: anything else is no cursor of theirs.
    for (const url of ['/v1/inbox?cursor=garbage', '/v1/inbox?cursor=dlv_01JD0000000000000000000000']) {
      expect((await get(url)).json(), url).toMatchObject({ code: 'MH_ERR_INVALID_CURSOR' });
    }
    expect((await get('/v1/events?since=yesterday')).json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
    // Date would read these as 1 March and 1 January: a typo must not silently move the window.
    for (const day of ['2020-02-30', '2021-02-29T10:00:00Z', '2020-12-32', '2020-13-01']) {
      expect((await get(`/v1/events?since=${day}`)).json(), day).toMatchObject({ code: 'MH_ERR_VALIDATION' });
    }
    expect((await get('/v1/events?since=2020-02-29T10:00:00Z')).statusCode).toBe(200);
    expect((await get('/v1/events?limit=0')).statusCode).toBe(400);
    expect((await get('/v1/events?limit=501')).statusCode).toBe(400);
    expect((await get('/v1/events?colour=red')).json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
  });
});

describe('POST /v1/inbox/reprocess', () => {
  it('runs the pipeline again over quarantined rows after a parser fix, without duplicating events', async () => {
    const app = await testApp({ MAILHOOK_SIGNATURE_TOLERANCE: '0' });
    try {
      const created = await app.server.inject({
        method: 'POST',
        url: '/v1/sources',
        headers: AUTH,
        payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
      });
      const sourceId = (created.json() as { id: string }).id;
      const body = sendGridBody(EVENTS.slice(0, 3));
      await app.server.inject({
        method: 'POST',
        url: `/ingest/${sourceId}`,
        headers: signer.headers(body, T0),
        payload: body,
      });

      // A parser bug: the row is quarantined, not lost.
      const bug = vi.spyOn(sendgrid, 'parse').mockImplementationOnce(() => {
        throw new MalformedPayloadError('simulated parser bug');
      });
      expect((await app.pipeline.runUntilIdle()).quarantined).toBe(1);
      bug.mockRestore();
      const quarantined = await app.server.inject({
        method: 'GET',
        url: '/v1/inbox?status=quarantined',
        headers: AUTH,
      });
      expect((quarantined.json() as { data: Array<{ error: string }> }).data[0]?.error).toBe(
        'simulated parser bug',
      );

      // The fix is deployed: reprocess the quarantined rows.
      const res = await app.server.inject({
        method: 'POST',
        url: '/v1/inbox/reprocess',
        headers: AUTH,
        payload: {},
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ requeued: 1 });
      expect(await app.pipeline.runUntilIdle()).toMatchObject({ processed: 1, inserted: 3 });

      // Reprocessing processed rows again is harmless: dedup keeps one event per sg_event_id.
      const again = await app.server.inject({
        method: 'POST',
        url: '/v1/inbox/reprocess',
        headers: AUTH,
        payload: { status: 'processed', source_id: sourceId },
      });
      expect(again.json()).toEqual({ requeued: 1 });
      expect(await app.pipeline.runUntilIdle()).toMatchObject({ processed: 1, inserted: 0, duplicates: 3 });
      expect(await app.store.countEvents()).toBe(3);
      const rows = await app.server.inject({ method: 'GET', url: '/v1/inbox', headers: AUTH });
      expect((rows.json() as { data: Array<{ attempts: number; status: string }> }).data[0]).toMatchObject({
        attempts: 3,
        status: 'processed',
      });
    } finally {
      await app.close();
    }
  });
});

describe('POST /v1/inbox/reprocess without a body', () => {
  it('requeues the quarantined rows by default', async () => {
    const app = await testApp();
    try {
      const res = await app.server.inject({ method: 'POST', url: '/v1/inbox/reprocess', headers: AUTH });
      expect(res.statusCode, res.body).toBe(202);
      expect(res.json()).toEqual({ requeued: 0 });
    } finally {
      await app.close();
    }
  });
});
