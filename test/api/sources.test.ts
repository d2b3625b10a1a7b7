import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();
const secret = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;

describe('/v1/sources', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await testApp({ MAILHOOK_PUBLIC_URL: 'https://hooks.example.com/' });
  });
  afterEach(async () => app.close());

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    app.server.inject({
      method,
      url,
      headers: AUTH,
      ...(payload !== undefined && { payload: payload as object }),
    });

  it('creates a source and answers with its ingest URL and setup text, never its credentials', async () => {
    const res = await call('POST', '/v1/sources', {
      name: 'Production SendGrid',
      provider: 'sendgrid',
      config: { public_key: signer.publicKey },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json() as Record<string, unknown>;
    expect(body).toMatchObject({
      id: expect.stringMatching(/^src_[0-9A-Z]{26}$/),
      name: 'Production SendGrid',
      provider: 'sendgrid',
      enabled: true,
      created_at: expect.any(String),
    });
    expect(body.ingest_url).toBe(`https://hooks.example.com/ingest/${body.id}`);
    expect(body.setup).toContain(String(body.ingest_url));
    expect(res.body).not.toContain(signer.publicKey);
    expect(body).not.toHaveProperty('config');

    const fetched = await call('GET', `/v1/sources/${body.id}`);
    expect(fetched.json()).toEqual(body);
    expect((await call('GET', '/v1/sources')).json()).toEqual({ data: [body] });
  });

  it('validates the provider and its config keys', async () => {
    const unknown = await call('POST', '/v1/sources', { name: 'x', provider: 'carrier-pigeon' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({
      code: 'MH_ERR_UNKNOWN_PROVIDER',
      message: expect.stringContaining('sendgrid'),
    });

    const badKey = await call('POST', '/v1/sources', {
      name: 'x',
      provider: 'sendgrid',
      config: { public_key: 'abc' },
    });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json()).toMatchObject({ code: 'MH_ERR_INVALID_SOURCE_CONFIG' });

    const noSecret = await call('POST', '/v1/sources', { name: 'x', provider: 'standard', config: {} });
    expect(noSecret.json()).toMatchObject({ code: 'MH_ERR_INVALID_SOURCE_CONFIG' });

    const missingName = await call('POST', '/v1/sources', { provider: 'standard', config: { secret } });
    expect(missingName.statusCode).toBe(400);
    expect(missingName.json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });

    const extra = await call('POST', '/v1/sources', {
      name: 'x',
      provider: 'standard',
      config: { secret },
      color: 'red',
    });
    expect(extra.json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
  });

  it('lets a SendGrid source be created before its key exists and refuses its posts until the key is set', async () => {
    const created = (await call('POST', '/v1/sources', { name: 'sg', provider: 'sendgrid' })).json() as {
      id: string;
    };
    const body = '[]\r\n';
    const before = await app.server.inject({
      method: 'POST',
      url: `/ingest/${created.id}`,
      headers: signer.headers(body),
      payload: body,
    });
    expect(before.statusCode).toBe(401);
    const patched = await call('PATCH', `/v1/sources/${created.id}`, {
      config: { public_key: signer.publicKey },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ config_keys: ['public_key'] });
    const after = await app.server.inject({
      method: 'POST',
      url: `/ingest/${created.id}`,
      headers: signer.headers(body),
      payload: body,
    });
    expect(after.statusCode).toBe(200);
  });

  it('renames, disables and deletes a source', async () => {
    const { id } = (
      await call('POST', '/v1/sources', { name: 'a', provider: 'standard', config: { secret } })
    ).json() as {
      id: string;
    };
    const renamed = await call('PATCH', `/v1/sources/${id}`, { name: 'b', enabled: false });
    expect(renamed.json()).toMatchObject({ name: 'b', enabled: false });
    expect((await call('PATCH', `/v1/sources/${id}`, {})).statusCode).toBe(400);
    expect((await call('DELETE', `/v1/sources/${id}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/sources/${id}`)).json()).toMatchObject({
      code: 'MH_ERR_SOURCE_NOT_FOUND',
    });
    expect((await call('DELETE', `/v1/sources/${id}`)).statusCode).toBe(404);
    expect((await call('PATCH', `/v1/sources/${id}`, { name: 'c' })).statusCode).toBe(404);
    expect((await call('GET', '/v1/sources')).json()).toEqual({ data: [] });
  });
});

describe('JSON bodies on /v1', () => {
  it('treats an empty body sent as application/json as no body, and refuses malformed JSON with a coded 400', async () => {
    const app = await testApp({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    try {
      const created = await app.server.inject({
        method: 'POST',
        url: '/v1/endpoints',
        headers: AUTH,
        payload: { url: 'http://127.0.0.1:9/x' },
      });
      const { id } = created.json() as { id: string };
      const paused = await app.server.inject({
        method: 'POST',
        url: `/v1/endpoints/${id}/pause`,
        headers: { ...AUTH, 'content-type': 'application/json' },
        payload: '',
      });
      expect(paused.statusCode).toBe(200);
      const bad = await app.server.inject({
        method: 'POST',
        url: '/v1/sources',
        headers: { ...AUTH, 'content-type': 'application/json' },
        payload: '{"name": ',
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
    } finally {
      await app.close();
    }
  });
});
