import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

/** Path parameters carry addresses and Message-IDs, which are often longer than a typical id. */
describe('long and malformed path parameters', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    app.server.inject({ method, url, headers: AUTH, ...(payload && { payload }) });

  it('reads and removes the suppression of a valid 126-character address', async () => {
    const email = `${'a'.repeat(64)}@${'b'.repeat(56)}.test`;
    expect(email).toHaveLength(126);
    expect((await call('POST', '/v1/suppressions', { email })).statusCode).toBe(201);
    const read = await call('GET', `/v1/suppressions/${email}`);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toMatchObject({ email, suppressed: true });
    expect((await call('DELETE', `/v1/suppressions/${email}`)).statusCode).toBe(200);
    expect((await call('GET', `/v1/suppressions/${email}`)).json()).toMatchObject({ suppressed: false });
  });

  it('looks up a 300-character Message-ID like any other', async () => {
    const res = await call('GET', `/v1/messages/${encodeURIComponent(`<${'m'.repeat(290)}@mail.example>`)}`);
    expect(res.json()).toMatchObject({ code: expect.stringMatching(/^MH_ERR_/) });
    expect(res.statusCode).toBe(404);
  });

  it('answers an over-long or undecodable path segment with 400 in the documented error shape', async () => {
    const long = await call('GET', `/v1/events/evt_${'x'.repeat(1200)}`);
    expect(long.statusCode).toBe(400);
    expect(long.json()).toEqual({
      code: 'MH_ERR_VALIDATION',
      message: expect.stringContaining('longer than'),
    });
    const bad = await call('GET', '/v1/events/evt_%ff');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'MH_ERR_VALIDATION', message: expect.stringContaining('not valid') });
  });
});
