import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const PASSWORD = 'correct-horse-battery';
const authorization = (password: string) => `Basic ${Buffer.from(`mailjet:${password}`).toString('base64')}`;

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

/** A grouped (Event API v2) post; MessageIDs are 2^58-sized, beyond what a JS number holds. */
function groupedBody(): string {
  const open =
    '{"event":"open","time":1433103519,"MessageID":288230376151711747,"email":"A@Example.com","ip":"192.0.2.1"}';
  const click =
    '{"event":"click","time":1433103520,"MessageID":288230376151711747,"email":"a@example.com","url":"https://example.com/x"}';
  // Mailjet retried part of a group: the open appears twice in one post.
  return `[${open},${click},${open}]`;
}

describe('POST /ingest/:sourceId for Mailjet', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 'mj',
        provider: 'mailjet',
        config: { basic_auth: { username: 'mailjet', password: PASSWORD } },
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
    const attempts: Record<string, string>[] = [{}, { authorization: authorization('guessed-password') }];
    for (const headers of attempts) {
      const res = await post(groupedBody(), headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(before);
  });

  it('stores each event of a grouped post once, with its 64-bit MessageID exact', async () => {
    const res = await post(groupedBody(), { authorization: authorization(PASSWORD) });
    expect(res.statusCode, res.body).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 2, duplicates: 1 });
    const list = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const events = (list.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.type).sort()).toEqual(['email.clicked', 'email.opened']);
    for (const event of events) {
      expect(event.data.message_id).toBe('288230376151711747');
      expect(event.data.recipient).toBe('a@example.com');
      expect(event.data.provider).toBe('mailjet');
      expect((event.data.raw as { MessageID: unknown }).MessageID).toBe('288230376151711747');
    }
  });
});
