import { afterEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../../helpers/app.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * The store going away, in process and deterministic (test/e2e/reliability/postgres-restart.test.ts
 * produces the same with a real PostgreSQL, at random moments): every way ingest can find the store
 * unreachable must answer 503 — "retry later" — and never 500 or 200.
 */

let app: TestApp | null = null;

afterEach(async () => {
  await app?.close();
  app = null;
});

const storeDown = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

async function setUp() {
  app = await testApp();
  const signer = sendGridSigner();
  const created = await app.server.inject({
    method: 'POST',
    url: '/v1/sources',
    headers: AUTH,
    payload: { name: 'outage', provider: 'sendgrid', config: { public_key: signer.publicKey } },
  });
  const sourceId = (created.json() as { id: string }).id;
  const send = () => {
    const body = sendGridBody(sendGridEvents(2));
    return app!.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers: signer.headers(body),
      payload: body,
    });
  };
  return { app, send, sourceId };
}

describe('ingest while the store is unreachable', () => {
  it('answers 503 when the commit fails', async () => {
    const { app, send } = await setUp();
    app.store.appendInbox = async () => {
      throw storeDown();
    };
    const res = await send();
    expect(res.statusCode).toBe(503);
    expect((res.json() as { code: string }).code).toBe('MH_ERR_STORE_UNAVAILABLE');
  });

  it('answers 503, not 500, when the source cannot be looked up', async () => {
    const { app, send } = await setUp();
    // The source cache (2 s) is empty for a source never seen, so the lookup reaches the store.
    app.store.getSource = async () => {
      throw storeDown();
    };
    const res = await send();
    expect(res.json()).toMatchObject({ code: 'MH_ERR_STORE_UNAVAILABLE' });
    expect(res.statusCode).toBe(503);
  });

  it('answers 503 on /readyz when the store does not answer', async () => {
    const { app } = await setUp();
    app.store.operationalCounts = async () => {
      throw storeDown();
    };
    const res = await app.server.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
  });
});
