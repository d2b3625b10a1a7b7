import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../src/api/index.js';
import { API_KEY, AUTH, type TestApp, testApp } from '../helpers/app.js';

interface KeyView {
  id: string;
  name: string;
  created_at: string;
  current: boolean;
  key?: string;
}

describe('/v1/keys', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await testApp();
  });
  afterEach(async () => app.close());

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = AUTH,
  ) =>
    app.server.inject({ method, url, headers, ...(payload !== undefined && { payload: payload as object }) });

  it('creates a key that is shown once and authenticates at once', async () => {
    const res = await call('POST', '/v1/keys', { name: 'ci' });
    expect(res.statusCode).toBe(201);
    const created = res.json() as KeyView;
    expect(created).toMatchObject({ id: expect.stringMatching(/^key_/), name: 'ci', current: false });
    expect(created.key).toMatch(/^mh_[A-Za-z0-9_-]{32}$/);

    const withNewKey = await call('GET', '/v1/sources', undefined, {
      authorization: `Bearer ${created.key}`,
    });
    expect(withNewKey.statusCode).toBe(200);

    const list = await call('GET', '/v1/keys');
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(String(created.key));
    const keys = (list.json() as { data: KeyView[] }).data;
    expect(keys.map((k) => k.name)).toEqual(['MAILHOOK_API_KEY', 'ci']);
    expect(keys.find((k) => k.name === 'MAILHOOK_API_KEY')?.current).toBe(true);
    expect(keys.every((k) => !('hash' in k) && !('key' in k))).toBe(true);
  });

  it('a revoked key is refused and no longer listed', async () => {
    const created = (await call('POST', '/v1/keys', { name: 'temporary' })).json() as KeyView;
    const revoked = await call('DELETE', `/v1/keys/${created.id}`);
    expect(revoked.statusCode).toBe(204);
    const refused = await call('GET', '/v1/sources', undefined, { authorization: `Bearer ${created.key}` });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'MH_ERR_UNAUTHORIZED' });
    const names = ((await call('GET', '/v1/keys')).json() as { data: KeyView[] }).data.map((k) => k.name);
    expect(names).toEqual(['MAILHOOK_API_KEY']);
  });

  it('revoking an unknown or already revoked key answers 404', async () => {
    expect((await call('DELETE', '/v1/keys/key_nope')).statusCode).toBe(404);
    const created = (await call('POST', '/v1/keys', { name: 'twice' })).json() as KeyView;
    expect((await call('DELETE', `/v1/keys/${created.id}`)).statusCode).toBe(204);
    const again = await call('DELETE', `/v1/keys/${created.id}`);
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ code: 'MH_ERR_NOT_FOUND', message: 'No such API key' });
  });

  it('refuses to revoke the last active key, which would lock everyone out', async () => {
    const [only] = ((await call('GET', '/v1/keys')).json() as { data: KeyView[] }).data;
    const res = await call('DELETE', `/v1/keys/${only?.id}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
    expect((await call('GET', '/v1/keys')).statusCode).toBe(200);
  });

  it('revokes the key the request is made with only with ?confirm=self', async () => {
    const created = (await call('POST', '/v1/keys', { name: 'ci' })).json() as KeyView;
    const asCi = { authorization: `Bearer ${created.key}` };
    const refused = await call('DELETE', `/v1/keys/${created.id}`, undefined, asCi);
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({
      code: 'MH_ERR_VALIDATION',
      message:
        'This is the API key the request is made with: revoking it ends your access. Add ?confirm=self to revoke it anyway',
    });
    expect((await call('GET', '/v1/keys', undefined, asCi)).statusCode).toBe(200);
    expect((await call('DELETE', `/v1/keys/${created.id}?confirm=yes`, undefined, asCi)).statusCode).toBe(
      400,
    );
    expect((await call('DELETE', `/v1/keys/${created.id}?confirm=self`, undefined, asCi)).statusCode).toBe(
      204,
    );
    expect((await call('GET', '/v1/keys', undefined, asCi)).statusCode).toBe(401);
  });

  it('needs no confirmation for another key, and a confirmation does not lift the last-key rule', async () => {
    const other = (await call('POST', '/v1/keys', { name: 'other' })).json() as KeyView;
    expect((await call('DELETE', `/v1/keys/${other.id}?confirm=self`)).statusCode).toBe(204);
    const [only] = ((await call('GET', '/v1/keys')).json() as { data: KeyView[] }).data;
    const last = await call('DELETE', `/v1/keys/${only?.id}?confirm=self`);
    expect(last.statusCode).toBe(400);
    expect(last.json()).toEqual({
      code: 'MH_ERR_VALIDATION',
      message: 'The last active API key cannot be revoked',
    });
  });

  it('documents the confirmation in the OpenAPI document', async () => {
    const doc = (await app.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<
        string,
        { delete?: { parameters?: Array<{ name: string; in: string; schema: unknown }> } }
      >;
    };
    const parameters = doc.paths['/v1/keys/{id}']?.delete?.parameters ?? [];
    expect(parameters).toContainEqual(
      expect.objectContaining({
        name: 'confirm',
        in: 'query',
        schema: expect.objectContaining({ enum: ['self'] }),
      }),
    );
  });

  it('keeps one key when two keys revoke each other at the same moment', async () => {
    const created = (await call('POST', '/v1/keys', { name: 'second' })).json() as KeyView;
    const [first] = ((await call('GET', '/v1/keys')).json() as { data: KeyView[] }).data;
    const answers = await Promise.all([
      call('DELETE', `/v1/keys/${created.id}`),
      call('DELETE', `/v1/keys/${first?.id}`, undefined, { authorization: `Bearer ${created.key}` }),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([204, 400]);
    const keys = await app.store.listApiKeys();
    expect(keys).toHaveLength(1);
  });

  it('a restart with a revoked MAILHOOK_API_KEY keeps it revoked and says so', async () => {
    const created = (await call('POST', '/v1/keys', { name: 'ops' })).json() as KeyView;
    const [admin] = await app.store.listApiKeys();
    expect(
      (await call('DELETE', `/v1/keys/${admin?.id}`, undefined, { authorization: `Bearer ${created.key}` }))
        .statusCode,
    ).toBe(204);
    expect(await ensureAdminKey(app.store, API_KEY)).toEqual({ generated: null, configuredRevoked: true });
    expect((await call('GET', '/v1/keys')).statusCode).toBe(401);
    expect(await ensureAdminKey(app.store, created.key ?? '')).toEqual({
      generated: null,
      configuredRevoked: false,
    });
  });

  it('validates the name and requires a key for every keys route', async () => {
    expect((await call('POST', '/v1/keys', {})).statusCode).toBe(400);
    expect((await call('POST', '/v1/keys', { name: 'x', admin: true })).statusCode).toBe(400);
    for (const [method, url] of [
      ['GET', '/v1/keys'],
      ['POST', '/v1/keys'],
      ['DELETE', '/v1/keys/key_x'],
    ] as const) {
      expect((await call(method, url, { name: 'x' }, {})).statusCode).toBe(401);
    }
  });
});
