import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

/**
 * A DELETE that lands between an action's read of the endpoint and its write: the action answers
 * 404, as if it had come after the DELETE, instead of a 500 or a secret for a deleted endpoint.
 */
describe('endpoint actions racing a DELETE', () => {
  let app: TestApp;
  let endpointId: string;

  beforeEach(async () => {
    app = await testApp({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: AUTH,
      payload: { url: 'http://127.0.0.1:9/hook' },
    });
    expect(res.statusCode, res.body).toBe(201);
    endpointId = (res.json() as { id: string }).id;
    // The next read of the endpoint is followed at once by its deletion.
    const read = app.store.getEndpoint.bind(app.store);
    app.store.getEndpoint = async (id) => {
      const endpoint = await read(id);
      await app.store.deleteEndpoint(id, new Date());
      return endpoint;
    };
  });
  afterEach(async () => app.close());

  for (const [action, payload] of [
    ['pause', undefined],
    ['resume', undefined],
    ['rotate-secret', {}],
  ] as const) {
    it(`${action} answers 404`, async () => {
      const res = await app.server.inject({
        method: 'POST',
        url: `/v1/endpoints/${endpointId}/${action}`,
        headers: AUTH,
        ...(payload && { payload }),
      });
      expect(res.statusCode, res.body).toBe(404);
      expect(res.json()).toMatchObject({ code: 'MH_ERR_ENDPOINT_NOT_FOUND' });
    });
  }
});
