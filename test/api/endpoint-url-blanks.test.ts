import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { applyDeclaration, parseConfigText } from '../../src/config-file.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';

describe('an endpoint URL with a space or a control character', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await testApp({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  });
  afterEach(async () => app.close());

  const post = (url: string) =>
    app.server.inject({ method: 'POST', url: '/v1/endpoints', headers: AUTH, payload: { url } });

  it('is refused with 400 and says where, instead of being saved as %20', async () => {
    const res = await post('http://127.0.0.1:9000/hooks/my hook');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      code: 'MH_ERR_VALIDATION',
      message:
        'url contains a space at position 31: remove it, or percent-encode it (%20) if it belongs in the URL',
    });
    for (const url of [' http://127.0.0.1:9000/', 'http://127.0.0.1:9000/\n', 'http://127.0.0.1:9000/a\tb']) {
      const refused = await post(url);
      expect(refused.statusCode, JSON.stringify(url)).toBe(400);
      expect(refused.json().message).toMatch(/^url contains a (space|blank or control character \(U\+00)/);
    }
    expect((await app.store.listEndpoints()).map((e) => e.url)).toEqual([]);
  });

  it('is refused on update too, and an encoded %20 is still accepted as written', async () => {
    const created = await post('http://127.0.0.1:9000/hooks/my%20hook');
    expect(created.statusCode).toBe(201);
    const { id, url } = created.json() as { id: string; url: string };
    expect(url).toBe('http://127.0.0.1:9000/hooks/my%20hook');
    const patched = await app.server.inject({
      method: 'PATCH',
      url: `/v1/endpoints/${id}`,
      headers: AUTH,
      payload: { url: 'http://127.0.0.1:9000/other hook' },
    });
    expect(patched.statusCode).toBe(400);
    expect(patched.json()).toMatchObject({ code: 'MH_ERR_VALIDATION' });
  });

  it('in a MAILHOOK_CONFIG file stops the start with a configuration error naming the endpoint', async () => {
    const file = parseConfigText(
      'mailhook.json',
      JSON.stringify({ endpoints: [{ name: 'crm', url: 'http://127.0.0.1:9000/my hook' }] }),
      {},
    );
    const applying = applyDeclaration(file, {
      server: app.server,
      store: app.store,
      logger: pino({ level: 'silent' }),
    });
    await expect(applying).rejects.toThrow(ConfigError);
    await expect(applying).rejects.toThrow(
      /endpoint "crm" could not be created: MH_ERR_VALIDATION: url contains a space/,
    );
  });
});
