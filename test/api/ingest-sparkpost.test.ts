import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/sparkpost');
const USER = 'sparkpost-hooks';
const PASSWORD = 'correct horse battery staple';
const GOOD = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const FORGED = { authorization: `Basic ${Buffer.from(`${USER}:guessed-password`).toString('base64')}` };

function fixture(name: string): unknown[] {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as unknown[];
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

describe('POST /ingest/:sourceId for SparkPost', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 'sp',
        provider: 'sparkpost',
        config: { basic_auth: { username: USER, password: PASSWORD } },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function post(body: unknown, headers: Record<string, string>) {
    return app.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(body),
    });
  }

  it('refuses a forged batch with 401 and stores nothing', async () => {
    expect((await post(fixture('delivery'), GOOD)).statusCode).toBe(200);
    const before = await inboxCount(app);
    expect(before).toBe(1);
    expect((await post(fixture('batch-mixed'), FORGED)).statusCode).toBe(401);
    expect((await post(fixture('batch-mixed'), {})).statusCode).toBe(401);
    expect(await inboxCount(app)).toBe(before);
  });

  it('answers the webhook test ping 200 and makes no event of it', async () => {
    const res = await post(fixture('ping'), GOOD);
    expect(res.statusCode, res.body).toBe(200);
    await app.pipeline.runUntilIdle();
    expect(await listEvents(app)).toEqual([]);
  });

  it('stores each event of a batch with an internal duplicate once', async () => {
    const batch = fixture('batch-mixed');
    const duplicated = [...batch, batch[0], ...fixture('bounce')];
    expect((await post(duplicated, GOOD)).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals.duplicates).toBe(1);

    const events = await listEvents(app);
    // 7 elements: 6 email events + 1 relay message skipped; then the duplicate and one bounce.
    expect(events).toHaveLength(7);
    expect(new Set(events.map((e) => e.data.provider_event_id)).size).toBe(7);
    const bounce = events.find((e) => e.type === 'email.bounced');
    expect(bounce?.data.bounce).toMatchObject({ type: 'hard', code: '5.1.1' });
    expect(bounce?.data.message_id).toBe('65832150921904138');
    expect(bounce?.timestamp).toBe('2016-04-18T14:25:10.000Z');
  });
});
