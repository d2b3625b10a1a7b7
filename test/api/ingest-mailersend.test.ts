import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { MAILERSEND_TEST_SECRET } from '../../src/providers/mailersend.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const SECRET = 'Zk3pWq8RtY2uIo9PaS4dFg7HjK1lXc6V';

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(join(import.meta.dirname, '../fixtures/mailersend', `${name}.json`), 'utf8'),
  );
}

function sign(body: string, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

async function events(app: TestApp): Promise<CanonicalEvent[]> {
  const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
  return (res.json() as { data: CanonicalEvent[] }).data;
}

describe('POST /ingest/:sourceId for MailerSend', () => {
  let app: TestApp;
  let id: string;

  beforeEach(async () => {
    app = await testApp();
    // Created without a secret: MailerSend shows it only after the webhook is saved.
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'ms', provider: 'mailersend', config: {} },
    });
    expect(res.statusCode, res.body).toBe(201);
    id = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, signature?: string) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature !== undefined) headers.signature = signature;
    return app.server.inject({ method: 'POST', url: `/ingest/${id}`, headers, payload: body });
  }

  async function setSecret() {
    const res = await app.server.inject({
      method: 'PATCH',
      url: `/v1/sources/${id}`,
      headers: AUTH,
      payload: { config: { signing_secret: SECRET } },
    });
    expect(res.statusCode, res.body).toBe(200);
  }

  it('answers the webhook.test ping before the secret is set, without storing it', async () => {
    const body = JSON.stringify(fixture('ping'));
    const res = await post(body, sign(body, MAILERSEND_TEST_SECRET));
    expect(res.statusCode).toBe(200);
    expect(await inboxCount(app)).toBe(0);
  });

  it('refuses forged events with 401 and stores nothing', async () => {
    await setSecret();
    const body = JSON.stringify(fixture('v2/hard_bounced')).replaceAll('/', '\\/');
    const attempts = [
      post(body, sign(body, 'guessed-secret')),
      post(body, sign(body, MAILERSEND_TEST_SECRET)),
      post(body.replace('Recipient@', 'Victim@'), sign(body)),
      post(body),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores an event once when MailerSend retries it', async () => {
    await setSecret();
    const body = JSON.stringify(fixture('v2/clicked')).replaceAll('/', '\\/');
    for (let i = 0; i < 3; i++) expect((await post(body, sign(body))).statusCode).toBe(200);
    const other = JSON.stringify(fixture('v2/delivered'));
    expect((await post(other, sign(other))).statusCode).toBe(200);
    await app.pipeline.runUntilIdle();
    const stored = await events(app);
    expect(stored.map((e) => e.type).sort()).toEqual(['email.clicked', 'email.delivered']);
    const clicked = stored.find((e) => e.type === 'email.clicked');
    expect(clicked?.data).toMatchObject({
      provider: 'mailersend',
      provider_event_id: '6892766a5b66e2daf3dc915e',
      message_id: '6892766ae78995a317577aa1',
      recipient: 'recipient@example.com',
      click: { url: 'https://example.com/test' },
    });
    expect(await inboxCount(app)).toBe(4);
  });
});
