import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/smtp2go');
const USER = 'smtp2go-hooks';
const PASSWORD = 'correct horse battery staple';
const GOOD = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const FORGED = { authorization: `Basic ${Buffer.from(`${USER}:guessed-password`).toString('base64')}` };

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

describe('POST /ingest/:sourceId for SMTP2GO', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 's2g',
        provider: 'smtp2go',
        config: { basic_auth: { username: USER, password: PASSWORD } },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: string, headers: Record<string, string>, type = 'application/json') {
    return app.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers: { 'content-type': type, ...headers },
      payload: body,
    });
  }

  it('refuses forged and credential-less posts with 401 and stores nothing', async () => {
    const body = JSON.stringify(fixture('bounce-hard'));
    for (const headers of [FORGED, {}]) expect((await post(body, headers)).statusCode).toBe(401);
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores a batch with an internal duplicate, and a form-encoded resend, once per event', async () => {
    const batch = [fixture('delivered'), fixture('bounce-hard'), fixture('delivered'), fixture('click')];
    expect((await post(JSON.stringify(batch), GOOD)).statusCode).toBe(200);
    const form = readFileSync(join(FIXTURES, 'processed.form'), 'utf8');
    for (let i = 0; i < 2; i++) {
      expect((await post(form, GOOD, 'application/x-www-form-urlencoded')).statusCode).toBe(200);
    }
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 5, duplicates: 3 });

    const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const events = (res.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.type).sort()).toEqual([
      'email.bounced',
      'email.clicked',
      'email.delivered',
      'email.sent',
      'email.sent',
    ]);
    expect(events.find((e) => e.type === 'email.bounced')?.data).toMatchObject({
      provider: 'smtp2go',
      message_id: '1w4x2g-FnQW0hPru7M-NRRC',
      recipient: 'grace@example.org',
      bounce: { type: 'hard' },
      metadata: { 'X-Tenant-Id': 'acme-eu' },
    });
  });
});
