import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mandrillSignature } from '../../../src/providers/mandrill.js';
import { skipOutsideCi } from '../../helpers/ci.js';
import { allDeliveries, createSendGridSource, sleep } from '../../helpers/pg-database.js';
import {
  api,
  E2E_API_KEY,
  killAll,
  removeDir,
  type ServerProcess,
  startServer,
  tempDataDir,
  waitFor,
} from '../../helpers/process.js';
import { type Receiver, startReceiver } from '../../helpers/receiver.js';
import { createEndpoint, postBatch } from '../../helpers/reliability.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * Secrets never reach the logs. Real servers at the most verbose level (trace) ingest correctly
 * signed and forged traffic from providers with every kind of credential (signatures, shared keys,
 * basic auth, secret headers, URL tokens), deliver to an endpoint that fails before it succeeds,
 * rotate the endpoint's secret and get a wrong API key; then every byte they wrote to stdout and
 * stderr is searched for each secret and each signature value that went over the wire.
 */

const FIXTURES = join(import.meta.dirname, '../../fixtures');
const ENV = {
  MAILHOOK_LOG_LEVEL: 'trace',
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: '0s,100ms,100ms,100ms',
  MAILHOOK_DELIVERY_TIMEOUT: '1s',
};

const dirs: string[] = [];
let receiver: Receiver | null = null;

afterEach(async () => {
  await killAll();
  await receiver?.close();
  receiver = null;
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

/** Every value that must never be logged, with where it came from (for the failure message). */
class Secrets {
  readonly values = new Map<string, string>();

  add(what: string, value: string | undefined): void {
    if (value && value.length >= 8) this.values.set(value, what);
  }

  /** Secrets found in `text`, with their origin. */
  foundIn(text: string): string[] {
    return [...this.values]
      .filter(([value]) => text.includes(value))
      .map(([value, what]) => `${what}: ${value.slice(0, 12)}…`);
  }
}

async function createSource(server: ServerProcess, provider: string, config: Record<string, unknown>) {
  const created = await api<{ id: string; ingest_url: string }>(server.url, '/v1/sources', {
    method: 'POST',
    body: { name: `logs ${provider}`, provider, config },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

async function post(url: string, body: string, headers: Record<string, string>, method = 'POST') {
  const response = await fetch(url, { method, headers, ...(method === 'POST' && { body }) });
  await response.arrayBuffer();
  return response.status;
}

describe('secrets in logs', () => {
  it('writes no API key, endpoint secret, provider key or signature to stdout or stderr, even at trace level', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const secrets = new Secrets();
    secrets.add('API key', E2E_API_KEY);
    const statuses: Record<string, number[]> = {};
    const note = (what: string, status: number) => {
      statuses[what] = [...(statuses[what] ?? []), status];
    };

    let server = await startServer({ dataDir, env: ENV });
    const outputs: Array<() => string> = [];
    const capture = (s: ServerProcess) => outputs.push(() => `${s.stdout()}\n${s.stderr()}`);
    capture(server);

    // Delivery: fails twice, then succeeds; the secret is rotated half-way.
    let calls = 0;
    receiver = await startReceiver({ respond: () => ({ status: ++calls <= 2 ? 500 : 200 }) });
    const endpoint = await createEndpoint(server.url, receiver.url);
    secrets.add('endpoint secret', endpoint.secret);
    secrets.add('endpoint secret (key part)', endpoint.secret.replace(/^whsec_/, ''));
    const own = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const second = await createEndpoint(server.url, receiver.url, { secret: own });
    secrets.add('endpoint secret chosen by the user', own);

    // SendGrid: signed, then forged (a valid signature over another body).
    const signer = sendGridSigner();
    const sendgrid = await createSendGridSource(server.url, signer, 'logs sendgrid');
    for (let i = 0; i < 5; i++) {
      const events = sendGridEvents(3);
      const body = sendGridBody(events);
      const headers = signer.headers(body);
      secrets.add('SendGrid signature', headers['x-twilio-email-event-webhook-signature']);
      note('sendgrid signed', (await postBatch(server.url, sendgrid, signer, events, { body })).status);
      note('sendgrid forged', await post(`${server.url}/ingest/${sendgrid}`, `${body} `, headers));
    }

    // Standard Webhooks.
    const standardSecret = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;
    secrets.add('standard secret', standardSecret);
    secrets.add('standard secret (key part)', standardSecret.replace(/^whsec_/, ''));
    const standard = await createSource(server, 'standard', { secret: standardSecret });
    for (let i = 0; i < 3; i++) {
      const id = `msg_logs_${i}`;
      const at = new Date();
      const body = JSON.stringify({
        type: 'email.delivered',
        timestamp: at.toISOString(),
        data: { email_id: id, to: ['a@example.com'] },
      });
      const signature = new Webhook(standardSecret).sign(id, at, body);
      secrets.add('standard signature', signature.replace(/^v1,/, ''));
      const headers = {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      };
      note(
        'standard signed',
        await post(standard.ingest_url, body, { ...headers, 'webhook-signature': signature }),
      );
      note(
        'standard forged',
        await post(standard.ingest_url, `${body} `, { ...headers, 'webhook-signature': signature }),
      );
    }

    // Mailgun: a shared signing key; HMAC of timestamp + token.
    const mailgunKey = 'key-logs-0123456789abcdef0123';
    secrets.add('Mailgun signing key', mailgunKey);
    const mailgun = await createSource(server, 'mailgun', { signing_key: mailgunKey });
    const eventData = (
      JSON.parse(readFileSync(join(FIXTURES, 'mailgun/delivered.json'), 'utf8')) as {
        'event-data': Record<string, unknown>;
      }
    )['event-data'];
    for (let i = 0; i < 3; i++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const token = `logs${i}${'t'.repeat(46)}`;
      const signature = createHmac('sha256', mailgunKey)
        .update(timestamp + token)
        .digest('hex');
      secrets.add('Mailgun signature', signature);
      const body = JSON.stringify({
        signature: { timestamp, token, signature },
        'event-data': { ...eventData, id: `logs-${i}` },
      });
      note('mailgun signed', await post(mailgun.ingest_url, body, { 'content-type': 'application/json' }));
      const forged = JSON.stringify({
        signature: { timestamp, token: `${token}x`, signature },
        'event-data': eventData,
      });
      note('mailgun forged', await post(mailgun.ingest_url, forged, { 'content-type': 'application/json' }));
    }

    // Postmark: basic auth and a secret header; a wrong password too.
    const password = 'postmark-password-logs-0123';
    const headerValue = 'postmark-header-secret-logs-0123';
    secrets.add('Postmark password', password);
    secrets.add('Postmark basic auth header', Buffer.from(`pm:${password}`).toString('base64'));
    secrets.add('Postmark secret header', headerValue);
    const postmark = await createSource(server, 'postmark', {
      basic_auth: { username: 'pm', password },
      header: { name: 'x-webhook-secret', value: headerValue },
    });
    const postmarkBody = readFileSync(join(FIXTURES, 'postmark/delivery.json'), 'utf8');
    const auth = `Basic ${Buffer.from(`pm:${password}`).toString('base64')}`;
    note(
      'postmark signed',
      await post(postmark.ingest_url, postmarkBody, {
        'content-type': 'application/json',
        authorization: auth,
        'x-webhook-secret': headerValue,
      }),
    );
    note(
      'postmark wrong header',
      await post(postmark.ingest_url, postmarkBody, {
        'content-type': 'application/json',
        authorization: auth,
        'x-webhook-secret': `${headerValue}x`,
      }),
    );

    // Elastic Email: a token in the URL's query string (GET).
    const queryToken = 'elastic-url-token-logs-0123';
    secrets.add('Elastic Email URL token', queryToken);
    const elastic = await createSource(server, 'elasticemail', { query_token: queryToken });
    const query = readFileSync(join(FIXTURES, 'elasticemail/sent.query'), 'utf8').trim();
    note(
      'elasticemail signed',
      await post(`${elastic.ingest_url}?${query}&mh_token=${queryToken}`, '', {}, 'GET'),
    );

    // Mandrill: HMAC-SHA1 over the URL and the form fields.
    const mandrillKey = 'mandrill-webhook-key-logs-01';
    secrets.add('Mandrill key', mandrillKey);
    const mandrill = await createSource(server, 'mandrill', { webhook_key: mandrillKey });
    const mandrillEvents = readFileSync(join(FIXTURES, 'mandrill/delivered.json'), 'utf8');
    const form = new URLSearchParams({ mandrill_events: mandrillEvents }).toString();
    const mandrillSig = mandrillSignature(mandrillKey, mandrill.ingest_url, [
      ['mandrill_events', mandrillEvents],
    ]);
    secrets.add('Mandrill signature', mandrillSig);
    note(
      'mandrill signed',
      await post(mandrill.ingest_url, form, {
        'content-type': 'application/x-www-form-urlencoded',
        'x-mandrill-signature': mandrillSig,
      }),
    );

    // The API: a wrong key, a rotation, a test send.
    const wrongKey = 'wrong-admin-key-0123456789abcdef';
    note('wrong API key', (await api(server.url, '/v1/sources', { key: wrongKey })).status);
    const rotated = await api<{ secret: string }>(server.url, `/v1/endpoints/${endpoint.id}/rotate-secret`, {
      method: 'POST',
      body: {},
    });
    secrets.add('rotated endpoint secret', rotated.body.secret);
    note(
      'test send',
      (await api(server.url, `/v1/endpoints/${second.id}/test`, { method: 'POST', body: {} })).status,
    );

    await waitFor(
      'deliveries to finish',
      async () => {
        const list = await allDeliveries(server.url, endpoint.id);
        return list.length > 0 && list.every((d) => d.status !== 'pending') ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // What went out on the wire to the receiver.
    for (const request of receiver.requests) {
      for (const signature of (request.headers['webhook-signature'] ?? '').split(' ')) {
        secrets.add('outbound webhook-signature', signature.replace(/^v1,/, ''));
      }
    }

    // Error paths log whole errors: make the store fail (immutable database files, where chattr works)
    // while correctly signed requests arrive, so 'could not store' lines are in the output too.
    const files = ['mailhook.db', 'mailhook.db-wal'].map((f) => join(dataDir, f));
    let locked = false;
    try {
      execFileSync('chattr', ['+i', ...files], { stdio: 'ignore' });
      locked = true;
    } catch (err) {
      // chattr is not available here (not root, or not ext2/3/4): the other paths still count.
      skipOutsideCi('the store-failure phase of the log test', String(err));
    }
    if (locked) {
      try {
        for (let i = 0; i < 3; i++) {
          const events = sendGridEvents(2);
          const body = sendGridBody(events);
          secrets.add('SendGrid signature', signer.headers(body)['x-twilio-email-event-webhook-signature']);
          note(
            'sendgrid while the store fails',
            (await postBatch(server.url, sendgrid, signer, events, { body })).status,
          );
        }
      } finally {
        execFileSync('chattr', ['-i', ...files]);
      }
    }

    // A restart: start-up logs (configuration, migrations, resumed work) are searched as well.
    await server.stop();
    server = await startServer({ dataDir, env: ENV });
    capture(server);
    await sleep(500);
    await server.stop();

    const output = outputs.map((read) => read()).join('\n');
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    console.log(
      `secrets in logs: ${lines.length} log lines (${(output.length / 1024).toFixed(0)} KB) from 2 server runs at trace level; ` +
        `${secrets.values.size} secret values searched; answers ${JSON.stringify(statuses)}; ` +
        `${receiver.requests.length} deliveries received`,
    );
    expect(statuses['sendgrid signed']?.every((s) => s === 200)).toBe(true);
    expect(statuses['sendgrid forged']?.every((s) => s === 401)).toBe(true);
    expect(statuses['standard signed']?.every((s) => s === 200)).toBe(true);
    expect(statuses['mailgun signed']?.every((s) => s === 200)).toBe(true);
    expect(statuses['postmark signed']).toEqual([200]);
    expect(statuses['elasticemail signed']).toEqual([200]);
    expect(statuses['mandrill signed']).toEqual([200]);
    expect(receiver.requests.length).toBeGreaterThan(2);
    expect(lines.length, 'the runs logged something').toBeGreaterThan(10);
    expect(secrets.foundIn(output)).toEqual([]);
    // A child logger of a child with the same key prints it twice in one JSON line.
    expect(lines.filter((line) => (line.match(/"area":/g) ?? []).length > 1)).toEqual([]);
  }, 60_000);
});
