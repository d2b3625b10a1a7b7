import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../src/api/index.js';
import { type App, build } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { DeliveryClient } from '../../src/delivery/http-client.js';
import { policyFromConfig } from '../../src/delivery/policy.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import type { CanonicalEvent } from '../../src/events.js';
import { pipelineEffects } from '../../src/pipeline/effects.js';
import { PipelineRunner } from '../../src/pipeline/runner.js';
import { SqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { API_KEY, AUTH } from '../helpers/app.js';
import { dropSchema, postgresAvailable, postgresStore, testSchema } from '../helpers/postgres.js';
import { type Receiver, startReceiver, verifiedByBoth } from '../helpers/receiver.js';

/**
 * Events of the publisher's own types (`invoice.paid`): `data` is exactly what was published — in
 * the answer, in the API and in the delivered webhook — while `email.*` events keep the canonical
 * email data. The store still indexes them (source, type, a top-level recipient or message id) and
 * endpoint filters read their top-level tags and metadata. Both stores.
 */

interface Harness {
  app: App;
  store: Store;
  config: Config;
  pipeline: PipelineRunner;
  close(): Promise<void>;
}

async function harness(kind: 'sqlite' | 'postgres'): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'mailhook-own-'));
  const schema = testSchema();
  const store: Store =
    kind === 'sqlite' ? new SqliteStore({ filename: join(dir, 'mailhook.db') }) : postgresStore(schema);
  await store.migrate();
  await ensureAdminKey(store, API_KEY);
  const config = loadConfig({
    MAILHOOK_DATA_DIR: dir,
    MAILHOOK_API_KEY: API_KEY,
    MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  });
  const logger = pino({ level: 'silent' });
  const app = await build({ config, store, logger });
  const pipeline = new PipelineRunner({ store, logger, effects: pipelineEffects() });
  return {
    app,
    store,
    config,
    pipeline,
    async close() {
      await app.server.close();
      await store.close();
      if (kind === 'postgres') await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const kinds: Array<'sqlite' | 'postgres'> = ['sqlite'];
if (await postgresAvailable()) kinds.push('postgres');

describe.each(kinds)('events of your own type, on %s', (kind) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness(kind);
  });
  afterEach(async () => h.close());

  const publish = (payload: object, key?: string) =>
    h.app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...AUTH, ...(key && { 'idempotency-key': key }) },
      payload,
    });
  const get = async <T>(url: string): Promise<T> => {
    const res = await h.app.server.inject({ method: 'GET', url, headers: AUTH });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as T;
  };
  const listed = async (query: string) => (await get<{ data: CanonicalEvent[] }>(`/v1/events?${query}`)).data;
  const createEndpoint = async (payload: object) => {
    const res = await h.app.server.inject({ method: 'POST', url: '/v1/endpoints', headers: AUTH, payload });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; secret: string };
  };
  const endpointsOf = async (eventId: string) =>
    (await h.store.listDeliveries({ eventId, limit: 100 })).items.map((d) => d.endpointId).sort();

  it('publishes invoice.paid with data exactly as published: answer, GET, list and the signed delivery', async () => {
    const receiver: Receiver = await startReceiver();
    const client = new DeliveryClient({ allowPrivate: true, userAgent: 'mailhook/test' });
    try {
      const endpoint = await createEndpoint({ url: `${receiver.url}/hooks`, event_types: ['invoice.*'] });
      receiver.secrets = [endpoint.secret];
      const data = { invoice_id: 'inv_9', amount: 42, lines: [{ sku: 'A-1', qty: 2 }], paid_by: null };
      const res = await publish({ type: 'invoice.paid', timestamp: '2026-11-26T12:00:00Z', data });
      expect(res.statusCode, res.body).toBe(201);
      const answer = res.json() as CanonicalEvent;
      expect(answer).toEqual({
        id: expect.stringMatching(/^evt_/),
        type: 'invoice.paid',
        timestamp: '2026-11-26T12:00:00.000Z',
        data,
      });
      expect(await get(`/v1/events/${answer.id}`)).toEqual(answer);
      expect(await listed('source_id=src_published&type=invoice.paid')).toEqual([answer]);

      const worker = new DeliveryWorker({
        store: h.store,
        sender: client,
        logger: pino({ level: 'silent' }),
        policy: { ...policyFromConfig(h.config), jitter: 0 },
        timeoutMs: 5000,
        disableAfterMs: h.config.disableAfterMs,
        concurrency: 4,
        userAgent: 'mailhook/test',
      });
      await worker.dispatch();
      await worker.idle();
      expect(receiver.requests).toHaveLength(1);
      const request = receiver.requests[0];
      expect(request && verifiedByBoth(request), JSON.stringify(request?.checks)).toBe(true);
      const delivered = new Webhook(endpoint.secret).verify(request?.body ?? '', request?.headers ?? {});
      expect(delivered).toEqual(answer);
      expect((delivered as CanonicalEvent).data).toEqual(data);
    } finally {
      await client.close();
      await receiver.close();
    }
  });

  it('keeps the canonical email data for email.* events', async () => {
    const input = {
      type: 'email.delivered',
      timestamp: '2026-11-26T12:00:00Z',
      data: { recipient: ' A@Example.com ', message_id: 'm-1', tags: ['welcome'] },
    };
    const res = await publish(input);
    expect(res.statusCode, res.body).toBe(201);
    const event = res.json() as CanonicalEvent;
    expect(event.data).toEqual({
      provider: 'api',
      source_id: 'src_published',
      provider_event_id: null,
      message_id: 'm-1',
      recipient: 'a@example.com',
      user_agent: null,
      ip: null,
      tags: ['welcome'],
      metadata: {},
      received_at: expect.any(String),
      raw: input,
    });
    expect(await get(`/v1/events/${event.id}`)).toEqual(event);
  });

  it('answers a repeated Idempotency-Key with the same event and stores nothing new', async () => {
    const input = { type: 'invoice.paid', data: { invoice_id: 'inv_10', amount: 7 } };
    const first = await publish(input, 'inv-10');
    const again = await publish(input, 'inv-10');
    expect([first.statusCode, again.statusCode]).toEqual([201, 200]);
    expect(again.json()).toEqual(first.json());
    expect((first.json() as CanonicalEvent).data).toEqual(input.data);
    expect(await listed('type=invoice.paid')).toHaveLength(1);

    const batch = { events: [input, { type: 'order.shipped', data: { order: 'A-1' } }] };
    const created = await publish(batch, 'batch-1');
    const repeated = await publish(batch, 'batch-1');
    expect([created.statusCode, repeated.statusCode]).toEqual([201, 200]);
    type Batch = { data: Array<{ event: CanonicalEvent; created: boolean }> };
    expect((repeated.json() as Batch).data.map((r) => r.created)).toEqual([false, false]);
    expect((repeated.json() as Batch).data.map((r) => r.event)).toEqual(
      (created.json() as Batch).data.map((r) => r.event),
    );
    expect((created.json() as Batch).data.map((r) => r.event.data)).toEqual([
      { invoice_id: 'inv_10', amount: 7 },
      { order: 'A-1' },
    ]);
  });

  it('is found by a top-level recipient and message_id string, and joins that message timeline', async () => {
    const data = { recipient: 'Owner@Example.com', message_id: 'acct-1', reason: 'requested' };
    const res = await publish({ type: 'account.closed', data });
    expect(res.statusCode, res.body).toBe(201);
    const event = res.json() as CanonicalEvent;
    expect(event.data).toEqual(data);
    expect((await listed('recipient=owner@example.com')).map((e) => e.id)).toEqual([event.id]);
    expect((await listed('message_id=acct-1')).map((e) => e.id)).toEqual([event.id]);
    const message = await get<{ events: CanonicalEvent[] }>('/v1/messages/acct-1');
    expect(message.events.map((e) => e.id)).toEqual([event.id]);

    // Other values under those names are the publisher's own: kept, not indexed, not refused.
    const odd = { recipient: 42, message_id: { id: 'acct-1' }, tags: 'vip', metadata: ['x'], ip: 5 };
    const second = await publish({ type: 'account.closed', data: odd });
    expect(second.statusCode, second.body).toBe(201);
    expect((second.json() as CanonicalEvent).data).toEqual(odd);
    expect(await listed('message_id=acct-1')).toHaveLength(1);
    expect(await listed('type=account.closed')).toHaveLength(2);
  });

  it('routes by the top-level tags, metadata and recipient of its data, on fan-out and on redelivery', async () => {
    const vip = await createEndpoint({
      url: 'http://127.0.0.1:9/vip',
      event_types: ['invoice.*'],
      filter: { tags: ['vip'] },
    });
    const pro = await createEndpoint({
      url: 'http://127.0.0.1:9/pro',
      event_types: ['invoice.*'],
      filter: { metadata: { plan: 'pro' } },
    });
    const domain = await createEndpoint({
      url: 'http://127.0.0.1:9/domain',
      filter: { recipient_domains: ['example.com'] },
    });
    const ids: string[] = [];
    for (const data of [
      { invoice_id: 'a', tags: ['vip', 'eu'] },
      { invoice_id: 'b', metadata: { plan: 'pro' }, recipient: 'Billing@Example.com' },
      { invoice_id: 'c', tags: 'vip', metadata: { plan: 'free' } },
    ]) {
      const res = await publish({ type: 'invoice.paid', data });
      expect(res.statusCode, res.body).toBe(201);
      const event = res.json() as CanonicalEvent;
      expect(event.data).toEqual(data);
      ids.push(event.id);
    }
    const [a, b, c] = ids as [string, string, string];
    expect(await endpointsOf(a)).toEqual([vip.id]);
    expect(await endpointsOf(b)).toEqual([pro.id, domain.id].sort());
    expect(await endpointsOf(c)).toEqual([]);

    // A redelivery matches the stored event, whose data is the publisher's: same answer.
    const again = await h.app.server.inject({
      method: 'POST',
      url: `/v1/events/${b}/redeliver`,
      headers: AUTH,
      payload: {},
    });
    expect(again.statusCode, again.body).toBe(202);
    const targets = (again.json() as { deliveries: Array<{ endpoint_id: string }> }).deliveries;
    expect(targets.map((d) => d.endpoint_id).sort()).toEqual([pro.id, domain.id].sort());
  });

  it('serves events stored wrapped in email fields, before this change, as they were stored', async () => {
    const legacy: CanonicalEvent = {
      id: 'evt_01JDLEGACY00000000000000',
      type: 'invoice.paid',
      timestamp: '2026-11-01T12:00:00.000Z',
      data: {
        provider: 'api',
        source_id: 'src_published',
        provider_event_id: null,
        message_id: null,
        recipient: null,
        user_agent: null,
        ip: null,
        tags: ['vip'],
        metadata: {},
        received_at: '2026-11-01T12:00:00.000Z',
        raw: { type: 'invoice.paid', data: { invoice_id: 'old', tags: ['vip'] } },
      },
    };
    await h.store.publishEvents([{ event: legacy, dedupKey: 'id:legacy' }], pipelineEffects(), new Date());
    expect(await get(`/v1/events/${legacy.id}`)).toEqual(legacy);
    const vip = await createEndpoint({
      url: 'http://127.0.0.1:9/vip',
      event_types: ['invoice.*'],
      filter: { tags: ['vip'] },
    });
    const again = await h.app.server.inject({
      method: 'POST',
      url: `/v1/events/${legacy.id}/redeliver`,
      headers: AUTH,
      payload: {},
    });
    expect(again.statusCode, again.body).toBe(202);
    expect((again.json() as { deliveries: Array<{ endpoint_id: string }> }).deliveries).toEqual([
      { id: expect.any(String), endpoint_id: vip.id },
    ]);
  });

  it('stores an own type posted to a Standard Webhooks source as posted, once per webhook-id', async () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const source = await h.app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'relay', provider: 'standard', config: { secret } },
    });
    expect(source.statusCode, source.body).toBe(201);
    const sourceId = (source.json() as { id: string }).id;
    const post = async (id: string, body: string) => {
      const now = new Date();
      const res = await h.app.server.inject({
        method: 'POST',
        url: `/ingest/${sourceId}`,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(id, now, body),
        },
        payload: body,
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    const data = { invoice_id: 'inv_11', amount: 5, tags: ['vip'], recipient: 'Payer@Example.com' };
    const body = JSON.stringify({ type: 'invoice.paid', timestamp: '2026-11-26T12:00:00Z', data });
    await post('msg_inv_11', body);
    await post('msg_inv_11', body);
    // A NUL PostgreSQL could not store, which the API would have refused but a sender may post.
    await post('msg_nul', '{"type":"invoice.voided","data":{"note":"a\\u0000b"}}');
    await post('msg_mail', JSON.stringify({ type: 'email.delivered', data: { recipient: 'x@example.com' } }));
    const summary = await h.pipeline.runOnce(10);
    expect(summary).toMatchObject({ processed: 4, quarantined: 0, inserted: 3, duplicates: 1 });

    const events = await listed(`source_id=${sourceId}`);
    const byType = new Map(events.map((e) => [e.type, e]));
    expect(byType.get('invoice.paid')?.data).toEqual(data);
    expect(byType.get('invoice.voided')?.data).toEqual({ note: 'a\uFFFDb' });
    expect(byType.get('email.delivered')?.data).toMatchObject({
      provider: 'standard',
      source_id: sourceId,
      recipient: 'x@example.com',
    });
    expect((await listed('recipient=payer@example.com')).map((e) => e.type)).toEqual(['invoice.paid']);
  });
});

describe('how own types are described', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('sqlite');
  });
  afterAll(async () => h.close());

  it('GET /v1/event-types gives the schema of an own-type event, which a published one satisfies', async () => {
    const res = await h.app.server.inject({ method: 'GET', url: '/v1/event-types', headers: AUTH });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      data: Array<{ type: string }>;
      own_types: { description: string; schema: Record<string, unknown> };
    };
    expect(body.data.some((t) => !t.type.startsWith('email.') && !t.type.startsWith('system.'))).toBe(false);
    expect(body.own_types.description).toContain('exactly the data that was published');
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(body.own_types.schema);
    const published = await h.app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { type: 'invoice.paid', data: { invoice_id: 'inv_9' } },
    });
    expect(validate(published.json()), JSON.stringify(validate.errors)).toBe(true);
    const email = await h.app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { type: 'email.sent', data: { recipient: 'a@example.com' } },
    });
    expect(validate(email.json())).toBe(false);
  });

  it('the OpenAPI document says what POST /v1/events answers for either kind of type', async () => {
    const doc = (await h.app.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>>;
    };
    const op = doc.paths['/v1/events']?.post;
    expect(op?.description).toContain('exactly the data that was published');
    const created = JSON.stringify(op?.responses['201']);
    expect(created).toContain('canonical email data');
    expect(created).toContain('Exactly the published data');
    expect(op?.responses['200']).toBeDefined();
  });
});
