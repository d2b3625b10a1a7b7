import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/postmark');
const USER = 'postmark-hooks';
const PASSWORD = 'correct horse battery staple';
const GOOD = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const FORGED = { authorization: `Basic ${Buffer.from(`${USER}:guessed-password`).toString('base64')}` };

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

async function listEvents(app: TestApp): Promise<CanonicalEvent[]> {
  const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: CanonicalEvent[] }).data;
}

describe('POST /ingest/:sourceId for Postmark', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 'pm',
        provider: 'postmark',
        config: { basic_auth: { username: USER, password: PASSWORD } },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, headers: Record<string, string>) {
    return app.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });
  }

  it('refuses forged and credential-less posts with 401 and stores nothing', async () => {
    expect((await post(fixtureText('delivery'), GOOD)).statusCode).toBe(200);
    const before = await inboxCount(app);
    expect(before).toBe(1);
    for (const headers of [FORGED, {}]) {
      const res = await post(fixtureText('bounce-hard'), headers);
      expect(res.statusCode).toBe(401);
    }
    expect(await inboxCount(app)).toBe(before);
  });

  it('stores every record type once, even when Postmark retries a post', async () => {
    const names = [
      'delivery',
      'bounce-hard',
      'spam-complaint',
      'open',
      'click',
      'subscription-change-unsubscribe',
    ];
    for (const name of names) expect((await post(fixtureText(name), GOOD)).statusCode).toBe(200);
    // Postmark retries: the same bounce (by ID) and the same open (by its composite key) again.
    expect((await post(fixtureText('bounce-hard'), GOOD)).statusCode).toBe(200);
    expect((await post(fixtureText('open'), GOOD)).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals.duplicates).toBe(2);

    const events = await listEvents(app);
    expect(events.map((e) => e.type).sort()).toEqual(
      [
        'email.bounced',
        'email.clicked',
        'email.complained',
        'email.delivered',
        'email.opened',
        'email.unsubscribed',
      ].sort(),
    );
    const bounce = events.find((e) => e.type === 'email.bounced');
    expect(bounce?.data.provider_event_id).toBe('4323372036854775807');
    expect(bounce?.timestamp).toBe('2019-11-05T16:33:54.907Z');
    expect(bounce?.data.provider).toBe('postmark');
  });
});
