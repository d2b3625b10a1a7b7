import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv, freePort, killAll, signal, spawnCli, waitFor } from '../helpers/process.js';

const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('mailhook listen', () => {
  afterEach(async () => killAll());

  it('prints verified deliveries and refuses forged ones with 401', async () => {
    const port = await freePort();
    const listener = spawnCli(['listen', '--port', String(port), '--secret', secret, '--json'], childEnv({}));
    await waitFor('the listener to start', async () =>
      listener.stderr().includes('receiving on') ? true : undefined,
    );

    const body = JSON.stringify({
      id: 'evt_1',
      type: 'email.delivered',
      data: { recipient: 'a@example.com' },
    });
    const now = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('evt_1', now, body),
    };
    const good = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers, body });
    expect(good.status).toBe(200);
    const forged = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers,
      body: body.replace('a@', 'b@'),
    });
    expect(forged.status).toBe(401);

    const lines = await waitFor('two printed deliveries', async () => {
      const printed = listener.stdout().trim().split('\n').filter(Boolean);
      return printed.length >= 2
        ? printed.map((line) => JSON.parse(line) as Record<string, unknown>)
        : undefined;
    });
    expect(lines[0]).toMatchObject({
      id: 'evt_1',
      verified: true,
      status: 200,
      event: { type: 'email.delivered' },
    });
    expect(lines[1]).toMatchObject({ verified: false, status: 401 });
    signal(listener, 'SIGTERM');
    expect((await listener.exited).code).toBe(0);
  });

  it('fails the requested share of requests so retries can be watched', async () => {
    const port = await freePort();
    const listener = spawnCli(['listen', '--port', String(port), '--fail', '1'], childEnv({}));
    await waitFor('the listener to start', async () =>
      listener.stderr().includes('receiving on') ? true : undefined,
    );
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(500);
  });
});
