import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryRequest, DeliveryResponse } from '../../src/delivery/http-client.js';
import { policyFromConfig } from '../../src/delivery/policy.js';
import { DeliveryWorker, type Sender } from '../../src/delivery/worker.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();

/** A sender that answers from a script and records every request; `hold` keeps requests open. */
class ScriptedSender implements Sender {
  readonly requests: DeliveryRequest[] = [];
  private readonly held: Array<() => void> = [];
  constructor(public answer: (req: DeliveryRequest, n: number) => DeliveryResponse | 'hold') {}

  async send(req: DeliveryRequest): Promise<DeliveryResponse> {
    this.requests.push(req);
    const result = this.answer(req, this.requests.length);
    if (result !== 'hold') return result;
    await new Promise<void>((resolve) => this.held.push(resolve));
    return ok();
  }

  releaseAll(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }
}

const ok = (): DeliveryResponse => ({
  kind: 'response',
  status: 200,
  headers: {},
  bodySnippet: 'ok',
  durationMs: 5,
});
const status = (code: number, headers: Record<string, string> = {}): DeliveryResponse => ({
  kind: 'response',
  status: code,
  headers,
  bodySnippet: `status ${code}`,
  durationMs: 5,
});

describe('delivery policy, driven in-process with a controlled clock', () => {
  let app: TestApp;
  let clock: Date;
  let sourceId: string;

  beforeEach(async () => {
    clock = new Date('2026-11-26T12:00:00.000Z');
    app = await testApp(
      { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_RETRY_SCHEDULE: '0s,1m,1m' },
      () => clock,
    );
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  function worker(sender: Sender, extra: { disableAfterMs?: number; concurrency?: number } = {}) {
    return new DeliveryWorker({
      store: app.store,
      sender,
      logger: pino({ level: 'silent' }),
      policy: policyFromConfig(app.config),
      timeoutMs: 1000,
      disableAfterMs: extra.disableAfterMs ?? 0,
      concurrency: extra.concurrency ?? 50,
      userAgent: 'mailhook/test',
      now: () => clock,
      random: () => 0.5,
    });
  }

  async function endpoint(payload: Record<string, unknown> = {}) {
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: AUTH,
      payload: { url: 'http://127.0.0.1:9/hook', ...payload },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; secret: string };
  }

  async function ingest(count: number) {
    const body = sendGridBody(sendGridEvents(count));
    const headers = signer.headers(body, Math.floor(clock.getTime() / 1000));
    const res = await app.server.inject({
      method: 'POST',
      url: `/ingest/${sourceId}`,
      headers,
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    await app.pipeline.runUntilIdle();
  }

  const get = async (url: string) => (await app.server.inject({ method: 'GET', url, headers: AUTH })).json();

  it('retries on the schedule, then fails the delivery after the last attempt', async () => {
    const ep = await endpoint();
    await ingest(1);
    const sender = new ScriptedSender(() => status(500));
    const w = worker(sender);
    for (let i = 0; i < 3; i++) {
      expect(await w.dispatch()).toBe(1);
      await w.idle();
      expect(await w.dispatch()).toBe(0);
      clock = new Date(clock.getTime() + 60_000);
    }
    const { data } = (await get(`/v1/endpoints/${ep.id}/deliveries`)) as {
      data: Array<{ id: string; status: string; attempts: number }>;
    };
    expect(data[0]).toMatchObject({ status: 'failed', attempts: 3 });
    const delivery = (await get(`/v1/deliveries/${data[0]?.id}`)) as {
      attempts: Array<{ http_status: number; ok: boolean }>;
      last_error: string;
    };
    expect(delivery.attempts.map((a) => a.http_status)).toEqual([500, 500, 500]);
    expect(delivery.last_error).toContain('gave up after 3 attempts');
    expect(new Set(sender.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
  });

  it('honours Retry-After on a 429', async () => {
    await endpoint();
    await ingest(1);
    const w = worker(new ScriptedSender(() => status(429, { 'retry-after': '120' })));
    await w.dispatch();
    await w.idle();
    const [delivery] = (await app.store.listDeliveries({ limit: 1 })).items;
    expect(delivery?.nextAttemptAt?.getTime()).toBe(clock.getTime() + 120_000);
  });

  it('disables an endpoint that answers 410 Gone, and sends it nothing more', async () => {
    const ep = await endpoint();
    await ingest(1);
    const sender = new ScriptedSender(() => status(410));
    const w = worker(sender);
    await w.dispatch();
    await w.idle();
    expect(await get(`/v1/endpoints/${ep.id}`)).toMatchObject({
      status: 'disabled',
      status_reason: 'endpoint answered 410 Gone',
    });
    await ingest(2);
    expect(await w.dispatch()).toBe(0);
    expect(sender.requests).toHaveLength(1);
  });

  it('disables an endpoint after a grace period of nothing but failures, and not before', async () => {
    const ep = await endpoint();
    const w = worker(new ScriptedSender(() => status(503)), { disableAfterMs: 5 * 86_400_000 });
    await ingest(1);
    await w.dispatch();
    await w.idle();
    clock = new Date(clock.getTime() + 4 * 86_400_000);
    await ingest(1);
    await w.dispatch();
    await w.idle();
    expect(await get(`/v1/endpoints/${ep.id}`)).toMatchObject({ status: 'active', consecutive_failures: 3 });
    clock = new Date(clock.getTime() + 1 * 86_400_000 + 1);
    await ingest(1);
    await w.dispatch();
    await w.idle();
    const after = (await get(`/v1/endpoints/${ep.id}`)) as { status: string; status_reason: string };
    expect(after.status).toBe('disabled');
    expect(after.status_reason).toContain('nothing but failures since 2026-11-26T12:00:00.000Z');
  });

  it('a success in between restarts the grace period', async () => {
    const ep = await endpoint();
    let fail = true;
    const w = worker(new ScriptedSender(() => (fail ? status(500) : ok())), { disableAfterMs: 86_400_000 });
    await ingest(1);
    await w.dispatch();
    await w.idle();
    clock = new Date(clock.getTime() + 43_200_000);
    fail = false;
    await ingest(1);
    await w.dispatch();
    await w.idle();
    fail = true;
    clock = new Date(clock.getTime() + 43_200_000 + 1);
    await ingest(1);
    await w.dispatch();
    await w.idle();
    expect(await get(`/v1/endpoints/${ep.id}`)).toMatchObject({ status: 'active' });
  });

  it('keeps a slow endpoint to its own concurrency cap while a fast endpoint gets everything', async () => {
    const slow = await endpoint({ url: 'http://127.0.0.1:9/slow', max_concurrency: 3 });
    const fast = await endpoint({ url: 'http://127.0.0.1:9/fast' });
    await ingest(10);
    const sender = new ScriptedSender((req) => (req.url.endsWith('/slow') ? 'hold' : ok()));
    const w = worker(sender, { concurrency: 20 });
    await w.dispatch();
    await w.dispatch();
    const slowSent = sender.requests.filter((r) => r.url.endsWith('/slow')).length;
    const fastSent = sender.requests.filter((r) => r.url.endsWith('/fast')).length;
    expect(slowSent).toBe(3);
    expect(fastSent).toBe(10);
    sender.releaseAll();
    await w.idle();
    const fastDone = await app.store.listDeliveries({ endpointId: fast.id, status: 'succeeded', limit: 50 });
    expect(fastDone.items).toHaveLength(10);
    const slowPending = await app.store.listDeliveries({ endpointId: slow.id, status: 'pending', limit: 50 });
    expect(slowPending.items).toHaveLength(7);
  });

  it('sends at most rate_limit deliveries per second to a rate-limited endpoint', async () => {
    await endpoint({ rate_limit: 2 });
    await ingest(5);
    const sender = new ScriptedSender(() => ok());
    const w = worker(sender);
    expect(await w.dispatch()).toBe(2);
    await w.idle();
    expect(await w.dispatch()).toBe(0);
    clock = new Date(clock.getTime() + 1000);
    expect(await w.dispatch()).toBe(2);
    await w.idle();
    clock = new Date(clock.getTime() + 500);
    expect(await w.dispatch()).toBe(1);
  });

  it('accumulates deliveries for a paused endpoint and sends them all once resumed', async () => {
    const ep = await endpoint();
    await app.server.inject({ method: 'POST', url: `/v1/endpoints/${ep.id}/pause`, headers: AUTH });
    await ingest(4);
    const sender = new ScriptedSender(() => ok());
    const w = worker(sender);
    expect(await w.dispatch()).toBe(0);
    const resumed = await app.server.inject({
      method: 'POST',
      url: `/v1/endpoints/${ep.id}/resume`,
      headers: AUTH,
    });
    expect(resumed.json()).toMatchObject({ status: 'active' });
    expect(await w.dispatch()).toBe(4);
    await w.idle();
    expect(sender.requests).toHaveLength(4);
  });

  it('routes by event type wildcard, metadata, tag and recipient domain', async () => {
    const bounces = await endpoint({ url: 'http://127.0.0.1:9/bounces', event_types: ['email.bounced'] });
    const acme = await endpoint({ url: 'http://127.0.0.1:9/acme', filter: { metadata: { tenant: 'acme' } } });
    const domain = await endpoint({
      url: 'http://127.0.0.1:9/d',
      filter: { recipient_domains: ['Example.ORG'] },
    });
    const body = sendGridBody([
      ...sendGridEvents(2, { tenant: 'acme' }),
      ...sendGridEvents(3, { event: 'bounce', type: 'bounce' }),
      ...sendGridEvents(1, { email: 'x@example.org' }),
    ]);
    const headers = signer.headers(body, Math.floor(clock.getTime() / 1000));
    await app.server.inject({ method: 'POST', url: `/ingest/${sourceId}`, headers, payload: body });
    const totals = await app.pipeline.runUntilIdle();
    const count = async (id: string) =>
      (await app.store.listDeliveries({ endpointId: id, limit: 50 })).items.length;
    expect(await count(bounces.id)).toBe(3);
    expect(await count(acme.id)).toBe(2);
    expect(await count(domain.id)).toBe(1);
    expect(totals.deliveries).toBe(6);
  });
});
