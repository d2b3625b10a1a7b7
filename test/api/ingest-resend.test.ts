import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'svix';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/resend');
const secret = `whsec_${randomBytes(24).toString('base64')}`;

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function svixHeaders(body: string, id: string, key = secret, at = new Date()) {
  return {
    'content-type': 'application/json',
    'svix-id': id,
    'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
    'svix-signature': new Webhook(key).sign(id, at, body),
  };
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

describe('POST /ingest/:sourceId for Resend', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'resend', provider: 'resend', config: { secret } },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, headers: Record<string, string>) {
    return app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers, payload: body });
  }

  it('refuses forged, tampered and unsigned posts with 401 and stores nothing', async () => {
    const body = fixtureText('bounced-permanent');
    const forged = svixHeaders(body, 'msg_forged', `whsec_${randomBytes(24).toString('base64')}`);
    const attempts = [
      post(body, forged),
      post(body.replace('bounced@resend.dev', 'someone@example.com'), svixHeaders(body, 'msg_1')),
      post(body, { 'content-type': 'application/json' }),
      post(body, svixHeaders(body, 'msg_2', secret, new Date(Date.now() - 3600_000))),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores each event once when Resend retries one of them with a new timestamp and signature', async () => {
    const delivered = fixtureText('delivered');
    const bounced = fixtureText('bounced-permanent');
    const posts: Array<[string, Record<string, string>]> = [
      [delivered, svixHeaders(delivered, 'msg_delivered')],
      [bounced, svixHeaders(bounced, 'msg_bounced')],
      [delivered, svixHeaders(delivered, 'msg_delivered', secret, new Date(Date.now() - 5_000))],
      [delivered, svixHeaders(delivered, 'msg_delivered')],
    ];
    for (const [body, headers] of posts) expect((await post(body, headers)).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 2, duplicates: 2 });

    const events = await listEvents(app);
    expect(events.map((e) => e.type).sort()).toEqual(['email.bounced', 'email.delivered']);
    const bounce = events.find((e) => e.type === 'email.bounced');
    expect(bounce?.data).toMatchObject({
      provider: 'resend',
      source_id: sourceId,
      provider_event_id: 'msg_bounced',
      message_id: '56761188-7520-42d8-8898-ff6fc54ce618',
      recipient: 'bounced@resend.dev',
      bounce: { type: 'hard', code: '5.1.1' },
    });
    expect(bounce?.timestamp).toBe('2024-11-22T23:41:12.126Z');
  });

  it('refuses posts to a source created without a secret until the secret is set', async () => {
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'resend-pending', provider: 'resend', config: {} },
    });
    const pendingId = (created.json() as { id: string }).id;
    const body = fixtureText('sent');
    const send = () =>
      app.server.inject({
        method: 'POST',
        url: `/ingest/${pendingId}`,
        headers: svixHeaders(body, 'msg_pending'),
        payload: body,
      });
    expect((await send()).statusCode).toBe(401);
    const patched = await app.server.inject({
      method: 'PATCH',
      url: `/v1/sources/${pendingId}`,
      headers: AUTH,
      payload: { config: { secret } },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await send()).statusCode).toBe(200);
  });
});
