import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const TOKEN = 'brevo-bearer-token-0123456789';
const FIXTURES = join(import.meta.dirname, '../fixtures/brevo');

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

describe('POST /ingest/:sourceId for Brevo', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 'brevo',
        provider: 'brevo',
        config: { header: { name: 'Authorization', value: `Bearer ${TOKEN}` } },
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

  it('refuses forged requests with 401 and stores nothing', async () => {
    const before = await inboxCount(app);
    const attempts: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const res = await post(fixtureText('delivered'), headers);
      expect(res.statusCode).toBe(401);
    }
    expect(await inboxCount(app)).toBe(before);
  });

  it('stores each event of a batch once, even when the batch repeats one', async () => {
    const batch = `[${fixtureText('request')},${fixtureText('click')},${fixtureText('request')},${fixtureText('hard_bounce')}]`;
    const res = await post(batch, { authorization: `Bearer ${TOKEN}` });
    expect(res.statusCode, res.body).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 3, duplicates: 1 });
    const list = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const events = (list.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.type).sort()).toEqual(['email.bounced', 'email.clicked', 'email.sent']);
    for (const event of events) {
      expect(event.data.message_id).toBe('<201798300811.5787683@relay.domain.com>');
      expect(event.data.provider).toBe('brevo');
    }
    const bounce = events.find((e) => e.type === 'email.bounced');
    expect(bounce?.data.bounce).toMatchObject({ type: 'hard', code: '5.5.0' });
  });
});
