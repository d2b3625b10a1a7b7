import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

describe('API key on every /v1 route', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('registers the routes the public contract promises', () => {
    const routes = app.routes.map((r) => `${r.method} ${r.url}`);
    for (const expected of [
      'POST /v1/sources',
      'GET /v1/sources',
      'GET /v1/sources/:id',
      'PATCH /v1/sources/:id',
      'DELETE /v1/sources/:id',
      'GET /v1/events',
      'GET /v1/events/:id',
      'GET /v1/inbox',
      'GET /v1/inbox/:id',
      'POST /v1/inbox/reprocess',
    ]) {
      expect(routes).toContain(expected);
    }
  });

  it('refuses every registered /v1 route without a key, with a wrong key and with a malformed header', async () => {
    const v1 = app.routes.filter((r) => r.url.startsWith('/v1') && r.method !== 'HEAD');
    expect(v1.length).toBeGreaterThanOrEqual(10);
    const badHeaders: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-key-0123456789' },
      { authorization: AUTH.authorization.replace('Bearer ', 'Basic ') },
      { authorization: 'Bearer' },
    ];
    for (const route of v1) {
      const url = route.url.replace(':id', 'src_x');
      for (const headers of badHeaders) {
        const res = await app.server.inject({ method: route.method as 'GET', url, headers, payload: {} });
        expect(res.statusCode, `${route.method} ${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json()).toMatchObject({ code: 'MH_ERR_UNAUTHORIZED' });
      }
    }
  });

  it('lets the right key through', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/v1/sources', headers: AUTH });
    expect(res.statusCode).toBe(200);
  });

  it('leaves health checks and ingest open to unauthenticated callers', async () => {
    expect((await app.server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.server.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({
      status: 'ready',
    });
    expect(
      (await app.server.inject({ method: 'POST', url: '/ingest/src_nope', payload: 'x' })).statusCode,
    ).toBe(404);
  });

  it('reports not ready when the store cannot answer', async () => {
    const other = await testApp();
    await other.store.close();
    const res = await other.server.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'MH_ERR_NOT_READY' });
    await other.server.close();
  });

  it('answers unknown routes with a coded 404', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'MH_ERR_NOT_FOUND', message: 'Route GET /nope not found' });
  });
});
