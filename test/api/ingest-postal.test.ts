import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/postal');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

function fixtureBody(name: string): string {
  // Compact, as Postal's to_json sends it.
  return JSON.stringify(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));
}

function signed(body: string, key = privateKey): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-postal-signature-256': sign('sha256', Buffer.from(body), key).toString('base64'),
    'x-postal-signature': sign('sha1', Buffer.from(body), key).toString('base64'),
  };
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

describe('POST /ingest/:sourceId for Postal', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 'postal',
        provider: 'postal',
        config: { public_key: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, headers: Record<string, string>) {
    return app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers, payload: body });
  }

  it('refuses a forged, tampered or unsigned post with 401 and stores nothing', async () => {
    const body = fixtureBody('message-delivery-failed');
    const attempts = [
      post(body, signed(body, forger)),
      post(body.replace('test@example.com', 'victim@example.com'), signed(body)),
      post(body, { 'content-type': 'application/json' }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores each event once when Postal retries a webhook request', async () => {
    const names = ['message-sent', 'message-delivery-failed', 'message-loaded', 'domain-dns-error'];
    for (const name of names) {
      const body = fixtureBody(name);
      expect((await post(body, signed(body))).statusCode).toBe(200);
    }
    // A retry resends the same body (same uuid) after a failed attempt.
    const retry = fixtureBody('message-delivery-failed');
    expect((await post(retry, signed(retry))).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 3, duplicates: 1 });

    const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const events = (res.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.type).sort()).toEqual(['email.bounced', 'email.delivered', 'email.opened']);
    const bounce = events.find((e) => e.type === 'email.bounced');
    expect(bounce?.data).toMatchObject({
      provider: 'postal',
      provider_event_id: '5fec5077-dae7-4989-94d5-e1963f3e9181',
      recipient: 'test@example.com',
      bounce: { type: 'hard', code: '5.1.1' },
    });
  });
});
