import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { api, killAll, removeDir, startServer, tempDataDir, waitFor } from '../helpers/process.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { createEndpoint } from '../helpers/reliability.js';
import { FakeMailgunEventsApi } from '../unit/reconcile/mailgun-fake-api.js';

/**
 * The reason reconciliation exists: mailhook is down longer than the provider retries, so some events
 * are never posted. The provider keeps them behind its Events API; when mailhook starts again it reads
 * back the gap since it was last seen running and stores each missing event once, delivering it once,
 * while the events its webhook did bring are recognised as duplicates.
 */

const SIGNING_KEY = 'mailgun-signing-key-for-reconcile-e2e-01';
const API_KEY = 'key-reconcile-e2e-0123456789abcdef';
const DOMAIN = 'sample.mailgun.com';
const FIXTURE = JSON.parse(
  readFileSync(new URL('../fixtures/mailgun/delivered.json', import.meta.url), 'utf8'),
) as { 'event-data': Record<string, unknown> };

/** A Mailgun `delivered` event-data object as both the webhook and the Events API carry it. */
function mailgunEvent(n: number, secondsAgo: number): Record<string, unknown> {
  const data = structuredClone(FIXTURE['event-data']);
  const recipient = `user${n}@example.com`;
  return {
    ...data,
    id: `reconcile-e2e-${n}-${randomBytes(4).toString('hex')}`,
    timestamp: Date.now() / 1000 - secondsAgo,
    recipient,
    message: {
      ...(data.message as Record<string, unknown>),
      headers: { to: recipient, 'message-id': `${n}.reconcile@${DOMAIN}`, from: `sender@${DOMAIN}` },
    },
  };
}

function signedWebhook(eventData: Record<string, unknown>): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', SIGNING_KEY)
    .update(timestamp + token)
    .digest('hex');
  return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
}

describe('reconciliation after downtime', () => {
  let fake: FakeMailgunEventsApi | null = null;
  let receiver: Receiver | null = null;
  const dirs: string[] = [];

  afterEach(async () => {
    await killAll();
  });

  afterAll(async () => {
    await fake?.close();
    await receiver?.close();
    for (const dir of dirs) removeDir(dir);
  });

  it('stores and delivers once each event the provider could not post while mailhook was down', async () => {
    fake = await FakeMailgunEventsApi.start({ apiKey: API_KEY, domain: DOMAIN });
    receiver = await startReceiver();
    const dataDir = tempDataDir();
    dirs.push(dataDir);

    let node = await startServer({ dataDir, env: { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
    const source = await api<{ id: string; ingest_url: string }>(node.url, '/v1/sources', {
      method: 'POST',
      body: {
        name: 'mailgun with API',
        provider: 'mailgun',
        config: { signing_key: SIGNING_KEY, api_key: API_KEY, api_base_url: fake.baseUrl, domain: DOMAIN },
      },
    });
    expect(source.status, JSON.stringify(source.body)).toBe(201);
    const endpoint = await createEndpoint(node.url, receiver.url);
    receiver.secrets.push(endpoint.secret);

    // While mailhook is up, the provider posts three events.
    const posted = [mailgunEvent(1, 600), mailgunEvent(2, 590), mailgunEvent(3, 580)];
    for (const event of posted) {
      const res = await fetch(source.body.ingest_url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: signedWebhook(event),
      });
      expect(res.status).toBe(200);
    }
    await waitFor(
      'the posted events to be delivered',
      async () => (receiver?.ids().size === 3 ? true : undefined),
      {
        timeoutMs: 15_000,
      },
    );
    await node.stop();

    // While it is down, four more happen; the provider gives up posting them, but its API keeps all seven.
    const missed = [mailgunEvent(4, 300), mailgunEvent(5, 200), mailgunEvent(6, 100), mailgunEvent(7, 50)];
    fake.pages = [[...posted, ...missed].map((item) => JSON.stringify(item))];
    // The outage lasted longer than this test: the installation was last seen 15 minutes ago.
    const db = new Database(join(dataDir, 'mailhook.db'));
    db.prepare('UPDATE node_heartbeat SET seen_at = ?').run(Date.now() - 15 * 60_000);
    db.close();

    node = await startServer({ dataDir, env: { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
    const job = await waitFor(
      'the reconciliation started at the restart to finish',
      async () => {
        const list = await api<{ data: Array<{ status: string; trigger: string }> }>(
          node.url,
          `/v1/sources/${source.body.id}/reconciliations`,
        );
        const done = list.body.data.find((j) => j.trigger === 'startup' && j.status !== 'running');
        return done;
      },
      { timeoutMs: 20_000 },
    );
    expect(job).toMatchObject({ status: 'done', found: 7, new: 4, duplicates: 3 });
    expect(fake.requests[0]?.authorization).toBe(`Basic ${Buffer.from(`api:${API_KEY}`).toString('base64')}`);

    await waitFor(
      'every event to be delivered',
      async () => (receiver?.ids().size === 7 ? true : undefined),
      {
        timeoutMs: 15_000,
      },
    );
    const events = await api<{ data: Array<{ data: { provider_event_id: string; received_via: string } }> }>(
      node.url,
      '/v1/events?limit=50',
    );
    const byId = new Map(events.body.data.map((e) => [e.data.provider_event_id, e.data.received_via]));
    expect(byId.size, 'each event stored once').toBe(7);
    expect(events.body.data).toHaveLength(7);
    for (const event of posted) expect(byId.get(String(event.id))).toBe('webhook');
    for (const event of missed) expect(byId.get(String(event.id))).toBe('api');
    // Delivered once each: seven webhook-ids, none received twice.
    const perId = [...(receiver?.ids() ?? [])].map((id) => receiver?.byId(id).length);
    expect(perId).toEqual([1, 1, 1, 1, 1, 1, 1]);
    await node.stop();
  }, 60_000);
});
