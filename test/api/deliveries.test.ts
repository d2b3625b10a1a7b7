import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

describe('POST /v1/deliveries/:id/retry', () => {
  let app: TestApp;
  let endpointId: string;
  let deliveryId: string;

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    app.server.inject({ method, url, headers: AUTH, ...(payload && { payload }) });

  beforeEach(async () => {
    app = await testApp({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    const endpoint = await call('POST', '/v1/endpoints', {
      url: 'http://127.0.0.1:9/hook',
      event_types: ['email.*'],
    });
    expect(endpoint.statusCode, endpoint.body).toBe(201);
    endpointId = (endpoint.json() as { id: string }).id;
    const published = await call('POST', '/v1/events', {
      type: 'email.delivered',
      data: { recipient: 'retry@example.com' },
    });
    expect(published.statusCode, published.body).toBe(201);
    const listed = await call('GET', `/v1/endpoints/${endpointId}/deliveries`);
    const [delivery] = (listed.json() as { data: Array<{ id: string }> }).data;
    deliveryId = delivery?.id ?? '';
    expect(deliveryId).toMatch(/^dlv_/);
  });
  afterEach(async () => app.close());

  it('makes a delivery due now (202), answers 409 while an attempt holds it and 404 for an unknown one', async () => {
    expect((await call('POST', `/v1/deliveries/${deliveryId}/retry`)).statusCode).toBe(202);
    // A worker claims it: an attempt is in flight.
    const claimed = await app.store.claimDueDeliveries({
      owner: 'worker-test',
      now: new Date(),
      leaseMs: 60_000,
      limit: 10,
      slots: () => 10,
    });
    expect(claimed.map((c) => c.delivery.id)).toEqual([deliveryId]);
    const busy = await call('POST', `/v1/deliveries/${deliveryId}/retry`);
    expect(busy.statusCode, busy.body).toBe(409);
    expect(busy.json()).toMatchObject({ code: 'MH_ERR_DELIVERY_IN_FLIGHT' });
    const unknown = await call('POST', '/v1/deliveries/dlv_01JD0000000000000000000000/retry');
    expect(unknown.json()).toMatchObject({ code: 'MH_ERR_DELIVERY_NOT_FOUND' });
  });

  it('refuses a rate limit below one delivery per 100 s, which would stop the endpoint', async () => {
    for (const rate of [1e-300, 0.001, 0]) {
      const res = await call('PATCH', `/v1/endpoints/${endpointId}`, { rate_limit: rate });
      expect(res.statusCode, `${rate}: ${res.body}`).toBe(400);
    }
    expect((await call('PATCH', `/v1/endpoints/${endpointId}`, { rate_limit: 0.01 })).statusCode).toBe(200);
  });

  it('pages deliveries by their last id and refuses any other cursor', async () => {
    const page = await call('GET', `/v1/endpoints/${endpointId}/deliveries?limit=1`);
    expect(page.statusCode).toBe(200);
    const garbage = await call('GET', `/v1/endpoints/${endpointId}/deliveries?cursor=zzz`);
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json()).toMatchObject({ code: 'MH_ERR_INVALID_CURSOR' });
    const valid = await call('GET', `/v1/endpoints/${endpointId}/deliveries?cursor=${deliveryId}`);
    expect(valid.json()).toEqual({ data: [], next_cursor: null });
  });

  it('answers 404 once the endpoint is deleted, and queues nothing', async () => {
    expect((await call('DELETE', `/v1/endpoints/${endpointId}`)).statusCode).toBe(204);
    const res = await call('POST', `/v1/deliveries/${deliveryId}/retry`);
    expect(res.statusCode, res.body).toBe(404);
    expect(res.json()).toMatchObject({ code: 'MH_ERR_ENDPOINT_NOT_FOUND' });
  });
});
