import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

describe('sources authenticated by a secret header', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await testApp();
  });
  afterEach(async () => app.close());

  it('never writes the configured secret header to the inbox', async () => {
    const secret = 's3cr3t-value-0123456789';
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: {
        name: 'brevo',
        provider: 'brevo',
        config: { header: { name: 'X-Webhook-Secret', value: secret } },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json() as { id: string };
    const body = JSON.stringify({
      event: 'delivered',
      email: 'a@example.com',
      id: 1,
      'message-id': '<m1@smtp-relay.mailin.fr>',
      ts_epoch: 1_700_000_000_000,
    });
    const res = await app.server.inject({
      method: 'POST',
      url: `/ingest/${id}`,
      headers: { 'content-type': 'application/json', 'x-webhook-secret': secret },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
    const row = await app.store.getInboxRow((res.json() as { id: string }).id);
    expect(row?.headers['x-webhook-secret']).toBe('[redacted]');
    expect(JSON.stringify(row?.headers)).not.toContain(secret);

    const wrong = await app.server.inject({
      method: 'POST',
      url: `/ingest/${id}`,
      headers: { 'content-type': 'application/json', 'x-webhook-secret': 'nope-nope-nope-nope' },
      payload: body,
    });
    expect(wrong.statusCode).toBe(401);
  });
});
