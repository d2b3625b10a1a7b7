import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeliveryClient } from '../../src/delivery/http-client.js';
import { policyFromConfig } from '../../src/delivery/policy.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { activeTracer, startTestTracing } from '../../src/tracing/tracing.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { type Receiver, startReceiver, verifiedByBoth } from '../helpers/receiver.js';

/**
 * OpenTelemetry traces through the application in-process (docs/tracing.md): an ingest request, the
 * pipeline batch that processes its row and the delivery attempt of its event, with the in-memory
 * exporter; and with tracing off, none of it.
 */

const USER = 'postmark-hooks';
const PASSWORD = 'correct horse battery staple';
const BASIC = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const DELIVERY = readFileSync(join(import.meta.dirname, '../fixtures/postmark/delivery.json'), 'utf8');
/** A proxy's trace in front of mailhook (W3C Trace Context's own example). */
const PROXY_TRACE = '0af7651916cd43dd8448eb211c80319c';
const PROXY_SPAN = 'b7ad6b7169203331';

interface Harness {
  app: TestApp;
  receiver: Receiver;
  client: DeliveryClient;
  worker: DeliveryWorker;
  sourceId: string;
  endpointId: string;
}

async function harness(): Promise<Harness> {
  const app = await testApp({ MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  const receiver = await startReceiver();
  const client = new DeliveryClient({ allowPrivate: true, userAgent: 'mailhook/test' });
  const worker = new DeliveryWorker({
    store: app.store,
    sender: client,
    logger: pino({ level: 'silent' }),
    policy: { ...policyFromConfig(app.config), jitter: 0 },
    timeoutMs: 5000,
    disableAfterMs: app.config.disableAfterMs,
    concurrency: 4,
    userAgent: 'mailhook/test',
  });
  const source = await app.server.inject({
    method: 'POST',
    url: '/v1/sources',
    headers: AUTH,
    payload: {
      name: 'pm',
      provider: 'postmark',
      config: { basic_auth: { username: USER, password: PASSWORD } },
    },
  });
  expect(source.statusCode, source.body).toBe(201);
  const endpoint = await app.server.inject({
    method: 'POST',
    url: '/v1/endpoints',
    headers: AUTH,
    payload: { url: `${receiver.url}/hooks`, event_types: ['email.*'] },
  });
  expect(endpoint.statusCode, endpoint.body).toBe(201);
  const { id: endpointId, secret } = endpoint.json() as { id: string; secret: string };
  receiver.secrets = [secret];
  return { app, receiver, client, worker, sourceId: (source.json() as { id: string }).id, endpointId };
}

async function closeHarness(h: Harness): Promise<void> {
  await h.worker.stop();
  await h.client.close();
  await h.receiver.close();
  await h.app.close();
}

function ingest(h: Harness, headers: Record<string, string> = BASIC, body = DELIVERY) {
  return h.app.server.inject({
    method: 'POST',
    url: `/ingest/${h.sourceId}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}

/** Claims and sends what is due, and waits until every attempt is recorded. */
async function deliver(h: Harness): Promise<void> {
  await h.worker.dispatch();
  await h.worker.idle();
}

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const named = spans.filter((span) => span.name === name);
  expect(named, `spans named ${name}: ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return named[0] as ReadableSpan;
}

const traceparent = (span: ReadableSpan) =>
  `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

describe('tracing on (in-memory exporter)', () => {
  let tracing: Awaited<ReturnType<typeof startTestTracing>>;
  let h: Harness;
  const finished = () => tracing.exporter.getFinishedSpans();

  beforeEach(async () => {
    tracing = await startTestTracing();
    h = await harness();
  });
  afterEach(async () => {
    await closeHarness(h);
    await tracing.stop();
  });

  it('makes one trace from the ingest request to the delivery attempt, linked from the pipeline batch', async () => {
    const res = await ingest(h);
    expect(res.statusCode, res.body).toBe(200);
    const inboxId = (res.json() as { id: string }).id;
    const totals = await h.app.pipeline.runUntilIdle();
    expect(totals.deliveries).toBe(1);
    await deliver(h);

    const ingestSpan = only(finished(), 'ingest');
    expect(ingestSpan.kind).toBe(SpanKind.SERVER);
    expect(ingestSpan.parentSpanContext).toBeUndefined();
    expect(ingestSpan.attributes).toMatchObject({
      'mailhook.source.id': h.sourceId,
      'mailhook.provider': 'postmark',
      'mailhook.inbox.id': inboxId,
      'http.response.status_code': 200,
    });
    expect(ingestSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect((await h.app.store.getInboxRow(inboxId))?.trace).toBe(traceparent(ingestSpan));

    const batch = only(finished(), 'pipeline.batch');
    expect(batch.parentSpanContext).toBeUndefined();
    expect(batch.links.map((link) => link.context.spanId)).toEqual([ingestSpan.spanContext().spanId]);
    expect(batch.links[0]?.context.traceId).toBe(ingestSpan.spanContext().traceId);
    expect(batch.attributes).toMatchObject({
      'mailhook.batch.rows': 1,
      'mailhook.batch.events': 1,
      'mailhook.batch.duplicates': 0,
      'mailhook.batch.quarantined': 0,
      'mailhook.batch.deliveries': 1,
    });

    const attempt = only(finished(), 'delivery.attempt');
    expect(attempt.kind).toBe(SpanKind.CLIENT);
    expect(attempt.spanContext().traceId).toBe(ingestSpan.spanContext().traceId);
    expect(attempt.parentSpanContext?.spanId).toBe(ingestSpan.spanContext().spanId);
    const [delivery] = (await h.app.store.listDeliveries({ limit: 10 })).items;
    expect(attempt.attributes).toMatchObject({
      'mailhook.delivery.id': delivery?.id,
      'mailhook.endpoint.id': h.endpointId,
      'mailhook.event.id': delivery?.eventId,
      'mailhook.delivery.attempt': 1,
      'http.response.status_code': 200,
      'mailhook.delivery.outcome': 'succeeded',
    });

    expect(h.receiver.requests).toHaveLength(1);
    const received = h.receiver.requests[0];
    expect(received && verifiedByBoth(received), JSON.stringify(received?.checks)).toBe(true);
    expect(received?.headers.traceparent).toBe(traceparent(attempt));
  });

  it('makes the attempt of a delivery handed to the worker at creation a child of the ingest span', async () => {
    h.worker.start();
    h.app.effects.handOff = h.worker;
    expect((await ingest(h)).statusCode).toBe(200);
    await h.app.pipeline.runUntilIdle();
    await h.worker.idle();
    expect(h.worker.stats.handedOff).toBe(1);
    const ingestSpan = only(finished(), 'ingest');
    const attempt = only(finished(), 'delivery.attempt');
    expect(attempt.parentSpanContext?.spanId).toBe(ingestSpan.spanContext().spanId);
    expect(attempt.spanContext().traceId).toBe(ingestSpan.spanContext().traceId);
    expect(h.receiver.requests[0]?.headers.traceparent).toBe(traceparent(attempt));
  });

  it('traces a failed attempt as an error, and the retry as another attempt of the same trace', async () => {
    let answers = 0;
    h.receiver.respond = () => ({ status: answers++ === 0 ? 503 : 200 });
    expect((await ingest(h)).statusCode).toBe(200);
    await h.app.pipeline.runUntilIdle();
    await deliver(h);
    const [delivery] = (await h.app.store.listDeliveries({ limit: 10 })).items;
    expect(await h.app.store.retryDelivery(delivery?.id ?? '', new Date())).toMatchObject({
      status: 'pending',
    });
    await deliver(h);

    const ingestSpan = only(finished(), 'ingest');
    const attempts = finished().filter((span) => span.name === 'delivery.attempt');
    expect(attempts.map((span) => span.attributes['mailhook.delivery.attempt'])).toEqual([1, 2]);
    expect(attempts.map((span) => span.attributes['mailhook.delivery.outcome'])).toEqual([
      'retrying',
      'succeeded',
    ]);
    expect(attempts.map((span) => span.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(attempts[0]?.attributes['http.response.status_code']).toBe(503);
    for (const attempt of attempts)
      expect(attempt.parentSpanContext?.spanId).toBe(ingestSpan.spanContext().spanId);
    expect(h.receiver.requests.map((r) => r.headers.traceparent)).toEqual(attempts.map(traceparent));
  });

  it("takes a proxy's traceparent as the ingest span's parent", async () => {
    const res = await ingest(h, { ...BASIC, traceparent: `00-${PROXY_TRACE}-${PROXY_SPAN}-01` });
    expect(res.statusCode).toBe(200);
    await h.app.pipeline.runUntilIdle();
    await deliver(h);
    const ingestSpan = only(finished(), 'ingest');
    expect(ingestSpan.spanContext().traceId).toBe(PROXY_TRACE);
    expect(ingestSpan.parentSpanContext?.spanId).toBe(PROXY_SPAN);
    expect(only(finished(), 'delivery.attempt').spanContext().traceId).toBe(PROXY_TRACE);
    expect(h.receiver.requests[0]?.headers.traceparent).toMatch(new RegExp(`^00-${PROXY_TRACE}-`));
  });

  it('marks refused requests (401, 413) as errors and stores nothing for them', async () => {
    expect((await ingest(h, { authorization: 'Basic bm9ib2R5Om5vdGhpbmc=' })).statusCode).toBe(401);
    const tooLarge = `{"pad":"${'x'.repeat(h.app.config.maxBodyBytes)}"}`;
    expect((await ingest(h, BASIC, tooLarge)).statusCode).toBe(413);
    const spans = finished().filter((span) => span.name === 'ingest');
    expect(spans.map((span) => [span.attributes['http.response.status_code'], span.status.code])).toEqual([
      [401, SpanStatusCode.ERROR],
      [413, SpanStatusCode.ERROR],
    ]);
    expect(spans[0]?.attributes['mailhook.provider']).toBe('postmark');
    expect(spans[1]?.attributes['mailhook.source.id']).toBe(h.sourceId);
    expect((await h.app.store.countInbox()).pending).toBe(0);
  });

  it('sends the deliveries of a published event with root attempt spans', async () => {
    const published = await h.app.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { type: 'email.delivered', data: { recipient: 'root@example.com' } },
    });
    expect(published.statusCode, published.body).toBe(201);
    await deliver(h);
    const attempt = only(finished(), 'delivery.attempt');
    expect(attempt.parentSpanContext).toBeUndefined();
    expect(h.receiver.requests[0]?.headers.traceparent).toBe(traceparent(attempt));
  });
});

describe('a tracer that throws', () => {
  let tracing: Awaited<ReturnType<typeof startTestTracing>>;
  let h: Harness;
  beforeEach(async () => {
    tracing = await startTestTracing();
    h = await harness();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await closeHarness(h);
    await tracing.stop();
  });

  it('costs the request, the batch and the attempt their spans, never the work', async () => {
    const tracer = activeTracer();
    expect(tracer).not.toBeNull();
    const startSpan = vi.spyOn(tracer as NonNullable<typeof tracer>, 'startSpan').mockImplementation(() => {
      throw new Error('the SDK broke');
    });
    const res = await ingest(h);
    expect(res.statusCode, res.body).toBe(200);
    const inboxId = (res.json() as { id: string }).id;
    expect((await h.app.pipeline.runUntilIdle()).deliveries).toBe(1);
    await deliver(h);

    // The ingest span, the pipeline.batch span and the delivery.attempt span were all tried.
    expect(startSpan.mock.calls.map(([name]) => name)).toEqual([
      'ingest',
      'pipeline.batch',
      'delivery.attempt',
    ]);
    expect((await h.app.store.getInboxRow(inboxId))?.trace).toBeUndefined();
    const [delivery] = (await h.app.store.listDeliveries({ limit: 10 })).items;
    expect(delivery?.status).toBe('succeeded');
    expect(h.receiver.requests).toHaveLength(1);
    expect(h.receiver.requests[0]?.headers.traceparent).toBeUndefined();
    expect(tracing.exporter.getFinishedSpans()).toHaveLength(0);
  });
});

describe('tracing off', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await closeHarness(h);
    vi.restoreAllMocks();
  });

  it('stores no trace, sends no traceparent and makes no span', async () => {
    const tracerPrototype = Object.getPrototypeOf(new BasicTracerProvider().getTracer('probe')) as {
      startSpan: (...args: unknown[]) => unknown;
    };
    const startSpan = vi.spyOn(tracerPrototype, 'startSpan');
    expect(activeTracer()).toBeNull();

    const res = await ingest(h);
    expect(res.statusCode, res.body).toBe(200);
    await h.app.pipeline.runUntilIdle();
    await deliver(h);
    expect(h.receiver.requests).toHaveLength(1);
    expect(h.receiver.requests[0]?.headers).not.toHaveProperty('traceparent');
    expect(h.receiver.requests[0]?.headers).not.toHaveProperty('tracestate');
    expect((await h.app.store.getInboxRow((res.json() as { id: string }).id))?.trace).toBeUndefined();
    const db = new Database(join(h.app.dir, 'mailhook.db'), { readonly: true });
    try {
      const rows = (table: string) => db.prepare(`SELECT trace FROM ${table}`).all();
      expect(rows('inbox')).toEqual([{ trace: null }]);
      expect(rows('deliveries')).toEqual([{ trace: null }]);
    } finally {
      db.close();
    }
    expect(startSpan).not.toHaveBeenCalled();

    // The probe sees the SDK's spans: with tracing on, the same path calls it.
    const tracing = await startTestTracing();
    try {
      activeTracer()?.startSpan('probe').end();
      expect(startSpan).toHaveBeenCalledTimes(1);
    } finally {
      await tracing.stop();
    }
  });
});
