import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/loops');
const secret = `whsec_${randomBytes(32).toString('base64')}`;

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

function signed(body: string, id: string, key = secret, at = new Date()) {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(key).sign(id, at, body),
  };
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

describe('POST /ingest/:sourceId for Loops', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'loops', provider: 'loops', config: { secret } },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, headers: Record<string, string>) {
    return app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers, payload: body });
  }

  it('refuses a forged or stale post with 401 and stores nothing', async () => {
    const body = fixtureText('email.hardBounced');
    const forged = post(body, signed(body, 'msg_f', `whsec_${randomBytes(32).toString('base64')}`));
    const stale = post(body, signed(body, 'msg_s', secret, new Date(Date.now() - 3600_000)));
    for (const res of await Promise.all([forged, stale])) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores a redelivered event once and an unsubscribe once, from its contact-level event', async () => {
    const bounced = fixtureText('email.hardBounced');
    const emailUnsub = fixtureText('email.unsubscribed');
    const contactUnsub = fixtureText('contact.unsubscribed');
    const posts: Array<[string, Record<string, string>]> = [
      [bounced, signed(bounced, 'msg_bounce')],
      [emailUnsub, signed(emailUnsub, 'msg_email_unsub')],
      [contactUnsub, signed(contactUnsub, 'msg_contact_unsub')],
      [bounced, signed(bounced, 'msg_bounce', secret, new Date(Date.now() - 60_000))],
    ];
    for (const [body, headers] of posts) expect((await post(body, headers)).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 2, duplicates: 1 });

    const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const events = (res.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.type).sort()).toEqual(['email.bounced', 'email.unsubscribed']);
    expect(events.find((e) => e.type === 'email.bounced')?.data).toMatchObject({
      provider: 'loops',
      provider_event_id: 'msg_bounce',
      message_id: '9874cm4t1sseg004tje7982991nan8732843',
      recipient: 'test+1@loops.so',
      bounce: { type: 'hard' },
    });
    expect(events.find((e) => e.type === 'email.unsubscribed')?.data.unsubscribe).toEqual({ group: null });
  });
});
