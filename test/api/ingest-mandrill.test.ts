import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const KEY = 'mandrill-webhook-key-for-ingest-tests';

function fixture(name: string): Record<string, unknown>[] {
  return JSON.parse(
    readFileSync(join(import.meta.dirname, '../fixtures/mandrill', `${name}.json`), 'utf8'),
  ) as Record<string, unknown>[];
}

function formBody(events: unknown[]): string {
  return new URLSearchParams({ mandrill_events: JSON.stringify(events).replaceAll('/', '\\/') }).toString();
}

/** Signs as Mandrill documents it: URL, then each field's name and value sorted by name. */
function sign(url: string, body: string, key = KEY): string {
  const fields = [...new URLSearchParams(body)].sort(([a], [b]) => (a < b ? -1 : 1));
  return createHmac('sha1', key)
    .update(url + fields.map(([n, v]) => n + v).join(''))
    .digest('base64');
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

async function events(app: TestApp): Promise<CanonicalEvent[]> {
  const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
  return (res.json() as { data: CanonicalEvent[] }).data;
}

describe('POST /ingest/:sourceId for Mandrill', () => {
  let app: TestApp;
  let id: string;
  let ingestUrl: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'mandrill', provider: 'mandrill', config: { webhook_key: KEY } },
    });
    expect(res.statusCode, res.body).toBe(201);
    ({ id, ingest_url: ingestUrl } = res.json() as { id: string; ingest_url: string });
  });
  afterEach(async () => app.close());

  function post(body: string, signature?: string) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (signature !== undefined) headers['x-mandrill-signature'] = signature;
    return app.server.inject({ method: 'POST', url: `/ingest/${id}`, headers, payload: body });
  }

  it('answers the HEAD check Mandrill makes when the webhook is added, even before the key is set', async () => {
    const keyless = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'new', provider: 'mandrill', config: {} },
    });
    for (const sourceId of [id, (keyless.json() as { id: string }).id]) {
      const res = await app.server.inject({ method: 'HEAD', url: `/ingest/${sourceId}` });
      expect(res.statusCode).toBe(200);
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('refuses forged, tampered and unsigned posts with 401 and stores nothing', async () => {
    const body = formBody(fixture('batch-send-test'));
    const attempts = [
      post(body, sign(ingestUrl, body, 'guessed-key')),
      post(body.replace('example.webhook', 'victim'), sign(ingestUrl, body)),
      post(body, sign(`${ingestUrl}/`, body)),
      post(body),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores each event of a batch once, even when the batch repeats one and is posted again', async () => {
    const batch = fixture('batch-one-message');
    const withDuplicate = [...batch, batch[3]];
    const body = formBody(withDuplicate);
    expect((await post(body, sign(ingestUrl, body))).statusCode).toBe(200);
    expect((await post(body, sign(ingestUrl, body))).statusCode).toBe(200);
    await app.pipeline.runUntilIdle();
    const stored = await events(app);
    expect(stored).toHaveLength(6);
    expect(stored.map((e) => e.type).sort()).toEqual([
      'email.clicked',
      'email.clicked',
      'email.delivered',
      'email.opened',
      'email.opened',
      'email.sent',
    ]);
    for (const event of stored) {
      expect(event.data).toMatchObject({
        provider: 'mandrill',
        source_id: id,
        recipient: 'ada.lovelace@example.com',
        message_id: '7a5b1c0e9d2f4e6a8b3c1d2e4f6a8b0c',
      });
    }
    expect(await inboxCount(app)).toBe(2);
  });

  it('accepts the empty test batch, storing the request without events', async () => {
    const body = formBody([]);
    expect((await post(body, sign(ingestUrl, body))).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals.quarantined).toBe(0);
    expect(await events(app)).toEqual([]);
  });
});
