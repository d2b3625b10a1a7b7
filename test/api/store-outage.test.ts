import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

/** A store that cannot work right now is a 503 (retry) on /v1 as on ingest; anything else stays a 500. */
describe('/v1 while the store is unavailable', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await testApp();
  });
  afterEach(async () => app.close());

  const failWith = (error: Error) => {
    app.store.listEvents = async () => Promise.reject(error);
    app.store.listSuppressions = async () => Promise.reject(error);
  };
  const get = (url: string) => app.server.inject({ method: 'GET', url, headers: AUTH });

  it('answers 503 MH_ERR_STORE_UNAVAILABLE for a busy or full SQLite and a PostgreSQL that is down', async () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_FULL', 'ECONNREFUSED', '57P01', '53300']) {
      failWith(Object.assign(new Error(`store says ${code}`), { code }));
      for (const url of ['/v1/events', '/v1/suppressions.csv']) {
        const res = await get(url);
        expect(res.statusCode, `${code} ${url}`).toBe(503);
        expect(res.json()).toMatchObject({ code: 'MH_ERR_STORE_UNAVAILABLE' });
      }
    }
  });

  it('keeps a 500 for what is not an outage', async () => {
    failWith(new TypeError('a bug'));
    const res = await get('/v1/events');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'MH_ERR_INTERNAL' });
  });
});
