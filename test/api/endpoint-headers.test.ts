import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

/**
 * Custom endpoint headers often carry the receiver's credentials under names no pattern can guess
 * (x-tenant-token, x-shared, …). Every endpoint answer shows their names only; the values come from
 * one explicit, authenticated reveal call, like the signing secret.
 */

const VALUES = {
  authorization: 'Bearer receiver-token-AUTHVALUE',
  'x-tenant': 'acme-TENANTVALUE',
  'x-receiver-check': 'innocent-name-CHECKVALUE',
};
const MASKED = { authorization: '[redacted]', 'x-tenant': '[redacted]', 'x-receiver-check': '[redacted]' };

/** No answer body may contain any of the values, whatever field they could hide in. */
function expectNoValue(body: string): void {
  for (const value of Object.values(VALUES)) expect(body).not.toContain(value);
  expect(body).not.toMatch(/AUTHVALUE|TENANTVALUE|CHECKVALUE/);
}

describe('custom endpoint headers: names only, values on an explicit reveal', () => {
  let app: TestApp;
  let endpointId: string;

  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    app.server.inject({ method, url, headers: AUTH, ...(payload && { payload }) });

  beforeEach(async () => {
    app = await testApp({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    const created = await call('POST', '/v1/endpoints', {
      url: 'http://127.0.0.1:9/hook',
      headers: {
        Authorization: VALUES.authorization,
        'X-Tenant': VALUES['x-tenant'],
        'x-receiver-check': VALUES['x-receiver-check'],
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    expectNoValue(created.body);
    const body = created.json() as { id: string; headers: Record<string, string>; secret: string };
    expect(body.headers).toEqual(MASKED);
    expect(body.secret).toMatch(/^whsec_/);
    endpointId = body.id;
  });
  afterEach(async () => app.close());

  it('never returns a header value when listing or getting an endpoint, whatever the header is named', async () => {
    const list = await call('GET', '/v1/endpoints');
    expect(list.statusCode).toBe(200);
    expectNoValue(list.body);
    expect((list.json() as { data: Array<{ headers: unknown }> }).data[0]?.headers).toEqual(MASKED);

    const one = await call('GET', `/v1/endpoints/${endpointId}`);
    expect(one.statusCode).toBe(200);
    expectNoValue(one.body);
    expect((one.json() as { headers: unknown }).headers).toEqual(MASKED);
  });

  it('never returns a header value from an update, pause or resume either', async () => {
    const patched = await call('PATCH', `/v1/endpoints/${endpointId}`, { description: 'crm' });
    expect(patched.statusCode, patched.body).toBe(200);
    expectNoValue(patched.body);
    for (const action of ['pause', 'resume']) {
      const res = await call('POST', `/v1/endpoints/${endpointId}/${action}`);
      expect(res.statusCode, res.body).toBe(200);
      expectNoValue(res.body);
      expect((res.json() as { headers: unknown }).headers).toEqual(MASKED);
    }
  });

  it('reveals the values on GET /v1/endpoints/:id/headers, with the API key only', async () => {
    const revealed = await call('GET', `/v1/endpoints/${endpointId}/headers`);
    expect(revealed.statusCode).toBe(200);
    expect(revealed.json()).toEqual({ headers: VALUES });

    for (const headers of [{}, { authorization: 'Bearer wrong-key-0123456789' }]) {
      const refused = await app.server.inject({
        method: 'GET',
        url: `/v1/endpoints/${endpointId}/headers`,
        headers,
      });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ code: 'MH_ERR_UNAUTHORIZED' });
      expectNoValue(refused.body);
    }
    const missing = await call('GET', '/v1/endpoints/ep_nope/headers');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'MH_ERR_ENDPOINT_NOT_FOUND' });
  });

  it('reveals an empty object for an endpoint without custom headers', async () => {
    const bare = await call('POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/bare' });
    const id = (bare.json() as { id: string }).id;
    expect((bare.json() as { headers: unknown }).headers).toEqual({});
    expect((await call('GET', `/v1/endpoints/${id}/headers`)).json()).toEqual({ headers: {} });
  });

  it('refuses the mask written back, so a read-modify-write cannot replace the real values', async () => {
    const shown = (await call('GET', `/v1/endpoints/${endpointId}`)).json() as {
      headers: Record<string, string>;
    };
    const written = await call('PATCH', `/v1/endpoints/${endpointId}`, {
      headers: { ...shown.headers, 'x-extra': 'new' },
    });
    expect(written.statusCode).toBe(400);
    expect(written.json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
    expect((await call('GET', `/v1/endpoints/${endpointId}/headers`)).json()).toEqual({ headers: VALUES });

    // Revealed, changed and written back: the new values are the ones kept, and still masked.
    const { headers } = (await call('GET', `/v1/endpoints/${endpointId}/headers`)).json() as {
      headers: Record<string, string>;
    };
    const changed = await call('PATCH', `/v1/endpoints/${endpointId}`, {
      headers: { ...headers, 'x-tenant': 'globex-TENANTVALUE' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expectNoValue(changed.body);
    expect((await call('GET', `/v1/endpoints/${endpointId}/headers`)).json()).toEqual({
      headers: { ...VALUES, 'x-tenant': 'globex-TENANTVALUE' },
    });
  });
});
