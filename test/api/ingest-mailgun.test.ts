import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const KEY = 'mailgun-signing-key-for-ingest-tests-0123';
const FIXTURES = join(import.meta.dirname, '../fixtures/mailgun');

type Json = Record<string, unknown>;

function eventData(name: string): Json {
  const payload = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { 'event-data': Json };
  return payload['event-data'];
}

function signature(key = KEY, timestamp = String(Math.floor(Date.now() / 1000))) {
  const token = randomBytes(25).toString('hex');
  return {
    timestamp,
    token,
    signature: createHmac('sha256', key)
      .update(timestamp + token)
      .digest('hex'),
  };
}

const json = (payload: unknown) => JSON.stringify(payload);
const JSON_HEADERS = { 'content-type': 'application/json' };

describe('POST /ingest/:sourceId for Mailgun', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'mg', provider: 'mailgun', config: { signing_key: KEY } },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, headers: Record<string, string> = JSON_HEADERS) {
    return app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers, payload: body });
  }

  async function inboxCount(): Promise<number> {
    const counts = await app.store.countInbox();
    return counts.pending + counts.processed + counts.quarantined;
  }

  async function events(): Promise<CanonicalEvent[]> {
    const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    return (res.json() as { data: CanonicalEvent[] }).data;
  }

  it('refuses forged, stale, replayed and unsigned requests with 401 and stores nothing', async () => {
    const delivered = eventData('delivered');
    const genuine = { signature: signature(), 'event-data': delivered };
    expect((await post(json(genuine))).statusCode).toBe(200);
    const before = await inboxCount();
    const stale = String(Math.floor(Date.now() / 1000) - 10 * 3600); // older than Mailgun's 9-hour retry window
    const attempts = [
      post(json({ signature: signature('not-the-key'), 'event-data': delivered })),
      post(json({ signature: signature(KEY, stale), 'event-data': delivered })),
      // The captured signature block of the genuine request, pasted onto another event.
      post(
        json({ ...genuine, 'event-data': { ...eventData('complained'), recipient: 'victim@example.com' } }),
      ),
      post(json({ 'event-data': delivered })),
      post('event=delivered&recipient=a%40example.com', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount()).toBe(before);
  });

  it('stores each event once across resends, redeliveries and a legacy form post', async () => {
    const names = ['accepted', 'delivered', 'failed-permanent-bounce', 'opened', 'clicked'];
    const bodies = names.map((name) => json({ signature: signature(), 'event-data': eventData(name) }));
    for (const body of bodies) expect((await post(body)).statusCode).toBe(200);
    // Mailgun resending the delivered event with a fresh signature, and a byte-identical redelivery.
    expect(
      (await post(json({ signature: signature(), 'event-data': eventData('delivered') }))).statusCode,
    ).toBe(200);
    expect((await post(bodies[0] ?? '')).statusCode).toBe(200);
    const sig = signature();
    const legacy = new URLSearchParams({ event: 'unsubscribed', recipient: 'Leaver@Example.com', ...sig });
    const form = await post(legacy.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.statusCode).toBe(200);

    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 6, duplicates: 2, quarantined: 0 });
    const stored = await events();
    expect(stored.map((e) => e.type).sort()).toEqual([
      'email.bounced',
      'email.clicked',
      'email.delivered',
      'email.opened',
      'email.sent',
      'email.unsubscribed',
    ]);
    const bounced = stored.find((e) => e.type === 'email.bounced');
    expect(bounced?.data).toMatchObject({
      provider: 'mailgun',
      source_id: sourceId,
      recipient: 'invalid@example.com',
      message_id: '20260203214658.1.0DF563D0B3597700@sample.mailgun.com',
      bounce: { type: 'hard', code: '5.1.1' },
    });
    expect(stored.find((e) => e.type === 'email.unsubscribed')?.data.recipient).toBe('leaver@example.com');
  });
});
