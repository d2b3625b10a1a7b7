import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridSigner } from '../helpers/sendgrid.js';

interface SourceView {
  id: string;
  setup: string;
  config_keys: string[];
}

describe('the setup text the sources API returns', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await testApp();
  });
  afterEach(async () => app.close());

  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    app.server.inject({
      method,
      url,
      headers: AUTH,
      ...(payload !== undefined && { payload: payload as object }),
    });

  it('follows the configuration: it asks for the SendGrid key until it is set, then says what comes next', async () => {
    const created = (
      await call('POST', '/v1/sources', { name: 'SendGrid', provider: 'sendgrid' })
    ).json() as SourceView;
    expect(created.setup).toContain("set it as this source's config.public_key");
    expect(created.setup).toContain(`PATCH /v1/sources/${created.id} {"config": {"public_key": "MFkw…"}}`);

    const signer = sendGridSigner();
    const patched = await call('PATCH', `/v1/sources/${created.id}`, {
      config: { public_key: signer.publicKey },
    });
    expect(patched.statusCode).toBe(200);
    for (const view of [
      patched.json() as SourceView,
      (await call('GET', `/v1/sources/${created.id}`)).json() as SourceView,
    ]) {
      expect(view.config_keys).toEqual(['public_key']);
      expect(view.setup).toContain('Done: config.public_key is set.');
      expect(view.setup).not.toContain("set it as this source's config.public_key");
      expect(view.setup).toContain(`mailhook events tail --source ${created.id}`);
      expect(view.setup).not.toContain(signer.publicKey);
    }
  });
});
