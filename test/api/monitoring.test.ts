import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryResponse } from '../../src/delivery/http-client.js';
import { policyFromConfig } from '../../src/delivery/policy.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import type { CanonicalEvent } from '../../src/events.js';
import { SourceMonitor } from '../../src/monitoring/source-monitor.js';
import { endpointEvent } from '../../src/monitoring/system-events.js';
import type { EndpointTransition, PublishedEvent } from '../../src/store/store.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { sendGridBody, sendGridEvents, sendGridSigner } from '../helpers/sendgrid.js';

const signer = sendGridSigner();

/** Reads one sample of a Prometheus text exposition. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('/metrics', () => {
  let app: TestApp;
  let sourceId: string;
  beforeEach(async () => {
    app = await testApp();
    app.pipeline.onBatch = (summary) => app.metrics.recordBatch(summary);
    const res = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    sourceId = (res.json() as { id: string }).id;
  });
  afterEach(async () => app.close());

  it('counts a 503 while the store cannot be read (the source is unknown then)', async () => {
    const original = app.store.getSource.bind(app.store);
    app.store.getSource = async () => {
      throw new Error('connection refused');
    };
    const body = sendGridBody(sendGridEvents(1));
    const answer = await app.server.inject({
      method: 'POST',
      url: '/ingest/src_while_down',
      headers: signer.headers(body),
      payload: body,
    });
    app.store.getSource = original;
    expect(answer.statusCode).toBe(503);
    const text = (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
    expect(
      sample(text, 'mailhook_ingest_requests_total', { source_id: 'unknown', outcome: 'unavailable' }),
    ).toBe(1);
  });

  it('counts exactly what was sent: accepted, refused, unknown, duplicates, stored events by type', async () => {
    const events = sendGridEvents(4);
    const body = sendGridBody(events);
    const post = (payload: string, headers: Record<string, string>, id = sourceId) =>
      app.server.inject({ method: 'POST', url: `/ingest/${id}`, headers, payload });
    for (let i = 0; i < 3; i++) expect((await post(body, signer.headers(body))).statusCode).toBe(200);
    for (let i = 0; i < 2; i++)
      expect((await post(body, sendGridSigner().headers(body))).statusCode).toBe(401);
    expect((await post(body, signer.headers(body), 'src_nope')).statusCode).toBe(404);
    await app.pipeline.runUntilIdle();

    const res = await app.server.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    const text = res.body;
    expect(sample(text, 'mailhook_ingest_requests_total', { source_id: sourceId, outcome: 'accepted' })).toBe(
      3,
    );
    expect(
      sample(text, 'mailhook_ingest_requests_total', { source_id: sourceId, outcome: 'unauthorized' }),
    ).toBe(2);
    expect(
      sample(text, 'mailhook_ingest_requests_total', { source_id: 'unknown', outcome: 'not_found' }),
    ).toBe(1);
    expect(sample(text, 'mailhook_verification_failures_total', { provider: 'sendgrid' })).toBe(2);
    expect(sample(text, 'mailhook_events_duplicates_total')).toBe(8);
    expect(sample(text, 'mailhook_pipeline_rows_total', { status: 'processed' })).toBe(3);
    const stored = ['email.sent', 'email.delivered', 'email.opened', 'email.clicked'].reduce(
      (sum, type) => sum + sample(text, 'mailhook_events_stored_total', { provider: 'sendgrid', type }),
      0,
    );
    expect(stored).toBe(4);
    expect(sample(text, 'mailhook_inbox_backlog')).toBe(0);
    expect(text).toContain('mailhook_endpoints{state="active"} 0');
  });

  it('requires the metrics token when one is configured: right token 200; missing, wrong or same-length wrong 401', async () => {
    const token = 'metrics-token-0123456789';
    const locked = await testApp({ MAILHOOK_METRICS_TOKEN: token });
    const scrape = (authorization?: string) =>
      locked.server.inject({
        method: 'GET',
        url: '/metrics',
        ...(authorization && { headers: { authorization } }),
      });
    try {
      const ok = await scrape(`Bearer ${token}`);
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('mailhook_ingest_requests_total');
      for (const authorization of [
        undefined,
        'Bearer wrong',
        `Bearer ${token.slice(0, -1)}X`, // same length, last byte differs
        `Bearer X${token.slice(1)}`, // same length, first byte differs
        `Bearer ${token}0`,
        `Bearer ${token.slice(0, -1)}`,
        token,
        `Basic ${token}`,
        `Bearer  ${token}`,
      ]) {
        const res = await scrape(authorization);
        expect(res.statusCode, String(authorization)).toBe(401);
        expect(res.json()).toMatchObject({ code: 'MH_ERR_UNAUTHORIZED' });
        expect(res.body).not.toContain('mailhook_ingest_requests_total');
      }
    } finally {
      await locked.close();
    }
  });

  it('reports not ready while the oldest unprocessed inbox row is older than the threshold', async () => {
    let clock = new Date();
    const lagging = await testApp({ MAILHOOK_READY_MAX_BACKLOG: '1m' }, () => clock);
    try {
      const src = await lagging.server.inject({
        method: 'POST',
        url: '/v1/sources',
        headers: AUTH,
        payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
      });
      const body = sendGridBody(sendGridEvents(1));
      const id = (src.json() as { id: string }).id;
      await lagging.server.inject({
        method: 'POST',
        url: `/ingest/${id}`,
        headers: signer.headers(body),
        payload: body,
      });
      expect((await lagging.server.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      clock = new Date(clock.getTime() + 2 * 60_000);
      const late = await lagging.server.inject({ method: 'GET', url: '/readyz' });
      expect(late.statusCode).toBe(503);
      expect(late.json()).toMatchObject({ code: 'MH_ERR_NOT_READY' });
      await lagging.pipeline.runUntilIdle();
      expect((await lagging.server.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await lagging.close();
    }
  });
});

describe('operational events', () => {
  let app: TestApp;
  let clock: Date;
  beforeEach(async () => {
    clock = new Date('2026-11-26T12:00:00.000Z');
    app = await testApp(
      { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_RETRY_SCHEDULE: '0s,1s,1s,1s,1s,1s,1s,1s,1s' },
      () => clock,
    );
  });
  afterEach(async () => app.close());

  async function systemEvents(): Promise<CanonicalEvent[]> {
    const res = await app.server.inject({
      method: 'GET',
      url: '/v1/events?source_id=src_system&limit=100',
      headers: AUTH,
    });
    return (res.json() as { data: CanonicalEvent[] }).data;
  }

  it('a source posting every second and then stopping raises silent once and recovered when it resumes', async () => {
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { name: 'sg', provider: 'sendgrid', config: { public_key: signer.publicKey } },
    });
    const sourceId = (created.json() as { id: string }).id;
    const published: PublishedEvent[] = [];
    const monitor = new SourceMonitor(
      app.store,
      async (events) => {
        published.push(...events);
        await app.store.publishEvents(events, {}, clock);
      },
      pino({ level: 'silent' }),
      { minSilenceMs: 60_000, factor: 10, learnAfter: 5 },
      () => clock,
    );
    for (let i = 0; i < 30; i++) {
      monitor.record(sourceId, clock);
      clock = new Date(clock.getTime() + 1000);
      await monitor.check();
    }
    expect(published).toHaveLength(0);
    for (let minute = 0; minute < 10; minute++) {
      clock = new Date(clock.getTime() + 60_000);
      await monitor.check();
    }
    expect(published.map((p) => p.event.type)).toEqual(['system.source.silent']);
    expect(published[0]?.event.data.metadata).toMatchObject({ source_id: sourceId, expected_gap_seconds: 1 });
    monitor.record(sourceId, clock);
    await new Promise((resolve) => setImmediate(resolve));
    await monitor.check();
    expect(published.map((p) => p.event.type)).toEqual(['system.source.silent', 'system.source.recovered']);
    expect((await systemEvents()).map((e) => e.type).sort()).toEqual([
      'system.source.recovered',
      'system.source.silent',
    ]);
    const source = await app.server.inject({ method: 'GET', url: `/v1/sources/${sourceId}`, headers: AUTH });
    expect(source.json()).toMatchObject({ state: { monitor: { silent: false } } });
  });

  it('an endpoint failing k times in a row raises failing once, disabling raises disabled, a minute of successes raises recovered', async () => {
    const endpoint = await app.server.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: AUTH,
      payload: { url: 'http://127.0.0.1:9/hook', event_types: ['invoice.*'] },
    });
    const endpointId = (endpoint.json() as { id: string }).id;
    const watcher = await app.server.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: AUTH,
      payload: { url: 'http://127.0.0.1:9/ops', event_types: ['system.*'] },
    });
    const watcherId = (watcher.json() as { id: string }).id;
    let answer = 500;
    const transitions: EndpointTransition[] = [];
    const worker = new DeliveryWorker({
      store: app.store,
      sender: {
        async send(req): Promise<DeliveryResponse> {
          const status = req.url.endsWith('/ops') ? 200 : answer;
          return { kind: 'response', status, headers: {}, bodySnippet: '', durationMs: 3 };
        },
      },
      logger: pino({ level: 'silent' }),
      policy: { ...policyFromConfig(app.config), jitter: 0 },
      timeoutMs: 1000,
      disableAfterMs: 0,
      concurrency: 10,
      userAgent: 'mailhook/test',
      failingAfter: 3,
      now: () => clock,
      onTransitions: async (list) => {
        transitions.push(...list);
        await app.store.publishEvents(list.map(endpointEvent), app.effects, clock);
      },
    });
    const publish = (n: number) =>
      app.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: {
          events: Array.from({ length: n }, () => ({ type: 'invoice.paid', data: { metadata: { n } } })),
        },
      });
    const round = async () => {
      await worker.dispatch();
      await worker.idle();
      clock = new Date(clock.getTime() + 1500);
    };
    await publish(5);
    await round();
    expect(transitions.map((t) => t.kind)).toEqual(['failing']);
    await round();
    expect(transitions.filter((t) => t.kind === 'failing')).toHaveLength(1);
    answer = 200;
    await round();
    // One good round is no recovery: that takes failingAfter successes over a minute, and 3 minutes
    // since failing was raised.
    expect(transitions.map((t) => t.kind)).toEqual(['failing']);
    clock = new Date(clock.getTime() + 3 * 60_000);
    await publish(1);
    await round();
    expect(transitions.map((t) => t.kind)).toEqual(['failing', 'recovered']);
    answer = 410;
    await publish(1);
    await round();
    expect(transitions.map((t) => t.kind)).toContain('disabled');
    await round();
    const types = (await systemEvents()).map((e) => e.type);
    expect(types.filter((t) => t === 'system.endpoint.failing')).toHaveLength(1);
    expect(types).toContain('system.endpoint.recovered');
    expect(types).toContain('system.endpoint.disabled');
    const delivered = await app.store.listDeliveries({
      endpointId: watcherId,
      status: 'succeeded',
      limit: 50,
    });
    expect(delivered.items.length).toBeGreaterThanOrEqual(3);
    expect((await app.store.getEndpoint(endpointId))?.status).toBe('disabled');
  });
});
