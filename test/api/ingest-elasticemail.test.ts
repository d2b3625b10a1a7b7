import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/elasticemail');
const TOKEN = 'q7Yx2mN9pL4vR8sT1wZ3';

function fixture(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.query`), 'utf8').trim();
}

async function inboxCount(app: TestApp): Promise<number> {
  const counts = await app.store.countInbox();
  return counts.pending + counts.processed + counts.quarantined;
}

describe('GET /ingest/:sourceId for Elastic Email', () => {
  let app: TestApp;
  let sourceId: string;

  beforeEach(async () => {
    app = await testApp();
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'ee', provider: 'elasticemail', config: { query_token: TOKEN } },
    });
    expect(res.statusCode, res.body).toBe(201);
    sourceId = (res.json() as { id: string }).id;
    expect((res.json() as { setup: string }).setup).toContain('mh_token=<query_token>');
  });
  afterEach(async () => app.close());

  function notify(query: string) {
    return app.server.inject({ method: 'GET', url: `/ingest/${sourceId}?${query}` });
  }

  it('refuses notifications without or with a wrong token with 401 and stores nothing', async () => {
    for (const query of [fixture('sent'), `mh_token=wrong-token-000000000&${fixture('sent')}`]) {
      const res = await notify(query);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_SIGNATURE_INVALID' });
    }
    expect(await inboxCount(app)).toBe(0);
  });

  it('stores GET notifications once each, even when one is delivered twice', async () => {
    for (const name of ['sent', 'opened', 'error-nomailbox', 'sent']) {
      expect((await notify(`mh_token=${TOKEN}&${fixture(name)}`)).statusCode).toBe(200);
    }
    // The URL check Elastic Email makes when the URL is saved: stored, then skipped.
    expect((await notify(`mh_token=${TOKEN}`)).statusCode).toBe(200);
    const totals = await app.pipeline.runUntilIdle();
    expect(totals).toMatchObject({ inserted: 3, duplicates: 1 });

    const res = await app.server.inject({ method: 'GET', url: '/v1/events?limit=100', headers: AUTH });
    const events = (res.json() as { data: CanonicalEvent[] }).data;
    expect(events.map((e) => e.type).sort()).toEqual(['email.bounced', 'email.delivered', 'email.opened']);
    expect(events.find((e) => e.type === 'email.bounced')?.data).toMatchObject({
      provider: 'elasticemail',
      recipient: 'ada.lovelace@example.com',
      bounce: { type: 'hard', reason: 'NoMailbox' },
    });
    for (const event of events) expect(JSON.stringify(event)).not.toContain(TOKEN);
    const rows = await app.server.inject({ method: 'GET', url: '/v1/inbox?limit=10', headers: AUTH });
    for (const row of (rows.json() as { data: Array<{ id: string }> }).data) {
      const full = await app.server.inject({ method: 'GET', url: `/v1/inbox/${row.id}`, headers: AUTH });
      expect(full.body).not.toContain(TOKEN);
    }
  });
});
