import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decideAlert, type HealthAlertPolicy } from '../../src/delivery/health-alerts.js';
import { DeliveryClient } from '../../src/delivery/http-client.js';
import { policyFromConfig } from '../../src/delivery/policy.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import type { CanonicalEvent } from '../../src/events.js';
import { endpointEvent } from '../../src/monitoring/system-events.js';
import type { EndpointAlertCounters, EndpointTransition } from '../../src/store/store.js';
import { AUTH, type TestApp, testApp } from '../helpers/app.js';
import { type FlakyReceiver, type Plan, startFlakyReceiver } from '../helpers/flaky-receiver.js';
import { runSeed, seededRandom } from '../helpers/random.js';

/**
 * Health alerts against a real receiver on 127.0.0.1 that fails half of its requests, with the
 * delivery worker on a controlled clock: minutes of traffic run in seconds. Three events a second,
 * each attempt answered 500 with probability ½: the kind of traffic that raised 7 failing and 6
 * recovered in six minutes (issue 17) before alerts had hysteresis.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const EVENTS_PER_SECOND = 3;

describe('endpoint health alerts with a receiver failing half of its requests', () => {
  let app: TestApp;
  let clock: Date;
  let receiver: FlakyReceiver;
  let client: DeliveryClient;
  let healthy: boolean;
  let plans: Plan[];
  const seed = runSeed();
  const random = seededRandom(seed);

  beforeEach(async () => {
    healthy = false;
    plans = [];
    clock = new Date('2026-11-26T12:00:00.000Z');
    app = await testApp(
      // Three attempts, the last 35 s after the first: some deliveries run out within the test.
      { MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true', MAILHOOK_RETRY_SCHEDULE: '0s,5s,30s' },
      () => clock,
    );
    receiver = await startFlakyReceiver({
      senderTimeoutMs: 2000,
      // Each attempt of an event fails with probability ½ until the receiver is healthy.
      planFor: () => {
        const faults: Plan['faults'] = [];
        while (!healthy && faults.length < 10 && random() < 0.5) faults.push('500');
        const plan: Plan = { faults, success: 'ok' };
        plans.push(plan);
        return plan;
      },
    });
    client = new DeliveryClient({ allowPrivate: true, userAgent: 'mailhook/test' });
  });

  afterEach(async () => {
    await client.close();
    await receiver.close();
    await app.close();
  });

  async function systemEvents(): Promise<CanonicalEvent[]> {
    const res = await app.server.inject({
      method: 'GET',
      url: '/v1/events?source_id=src_system&limit=500',
      headers: AUTH,
    });
    return (res.json() as { data: CanonicalEvent[] }).data;
  }

  it(`raises failing once and no recovered in six minutes, and recovered a minute after it is healthy (seed ${seed})`, async () => {
    const created = await app.server.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: AUTH,
      payload: { url: receiver.url, event_types: ['invoice.*'] },
    });
    expect(created.statusCode).toBe(201);
    const endpoint = created.json() as { id: string };

    const transitions: EndpointTransition[] = [];
    const worker = new DeliveryWorker({
      store: app.store,
      sender: client,
      logger: pino({ level: 'silent' }),
      policy: policyFromConfig(app.config),
      timeoutMs: 2000,
      disableAfterMs: 0,
      concurrency: 20,
      userAgent: 'mailhook/test',
      failingAfter: app.config.failingAfter,
      now: () => clock,
      random: seededRandom(seed + 1),
      onTransitions: async (list) => {
        transitions.push(...list);
        await app.store.publishEvents(list.map(endpointEvent), app.effects, clock);
      },
    });
    const startMs = clock.getTime();
    const elapsed = (t: { at: Date }) => t.at.getTime() - startMs;
    const alerts = () => transitions.filter((t) => t.kind === 'failing' || t.kind === 'recovered');

    /** One second of the controlled clock: new events, every due attempt made and recorded. */
    const tick = async () => {
      const published = await app.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: {
          events: Array.from({ length: EVENTS_PER_SECOND }, () => ({
            type: 'invoice.paid',
            data: { metadata: { second: (clock.getTime() - startMs) / SECOND } },
          })),
        },
      });
      expect(published.statusCode).toBe(201);
      while ((await worker.dispatch()) > 0) await worker.idle();
      await worker.idle();
      clock = new Date(clock.getTime() + SECOND);
    };

    for (let s = 0; s < 6 * 60; s++) await tick();

    const attempts = receiver.attempts.length;
    const failed = receiver.attempts.filter((a) => a.behaviour === '500').length;
    expect(failed / attempts, `${failed} of ${attempts} attempts failed`).toBeGreaterThan(0.4);
    expect(failed / attempts).toBeLessThan(0.6);

    // The same attempts, in the order the store recorded them, through the rule before hysteresis.
    const samples = (await app.store.listAttemptSamples(endpoint.id, new Date(startMs))).sort(
      (a, b) => a.at.getTime() - b.at.getTime(),
    );
    expect(samples).toHaveLength(attempts);
    const legacy: HealthAlertPolicy = {
      failingAfter: 5,
      recoverAfterSuccesses: 1,
      recoverAfterMs: 0,
      minDwellMs: 0,
    };
    expect(changesUnder(legacy, samples), 'alerts the rule before hysteresis raised').toBeGreaterThanOrEqual(
      6,
    );

    expect(alerts().map((t) => t.kind)).toEqual(['failing']);
    const failing = alerts()[0] as EndpointTransition;
    expect(failing).toMatchObject({
      endpointId: endpoint.id,
      consecutiveFailures: 5,
      reason: expect.stringContaining('HTTP 500'),
    });
    const exhausted = transitions.filter((t) => t.kind === 'exhausted');
    const failedDeliveries = await app.store.listDeliveries({
      endpointId: endpoint.id,
      status: 'failed',
      limit: 1000,
    });
    // Running out of retries is not an alert: every delivery that did raises it, as before.
    expect(exhausted.length).toBeGreaterThan(0);
    expect(exhausted.map((t) => t.deliveryId).sort()).toEqual(failedDeliveries.items.map((d) => d.id).sort());

    const stored = (await systemEvents()).map((e) => e.type);
    expect(stored.filter((type) => type.startsWith('system.endpoint.'))).toEqual(['system.endpoint.failing']);

    // The receiver recovers: every request from now on, retries included, is answered 200.
    healthy = true;
    for (const plan of plans) plan.faults.length = 0;
    const healthyAtMs = clock.getTime() - startMs;
    for (let s = 0; s < 3 * 60; s++) await tick();

    expect(alerts().map((t) => t.kind)).toEqual(['failing', 'recovered']);
    const recovered = alerts()[1] as EndpointTransition;
    // A minute without a failure (the last ones may have been just before the receiver recovered)…
    const lastFailureAt = Math.max(
      ...samples.filter((sample) => !sample.ok).map((sample) => sample.at.getTime()),
    );
    expect(recovered.at.getTime() - lastFailureAt).toBeGreaterThanOrEqual(MINUTE);
    // …and reported at once after it.
    expect(elapsed(recovered) - healthyAtMs).toBeLessThanOrEqual(MINUTE + 2 * SECOND);
    const types = (await systemEvents()).map((e) => e.type);
    expect(types.filter((type) => type.startsWith('system.endpoint.')).sort()).toEqual([
      'system.endpoint.failing',
      'system.endpoint.recovered',
    ]);
  }, 120_000);
});

/** How many failing/recovered the attempts would raise under `policy`. */
function changesUnder(policy: HealthAlertPolicy, samples: Array<{ at: Date; ok: boolean }>): number {
  let counters: EndpointAlertCounters = {
    state: 'ok',
    changedAt: null,
    consecutiveFailures: 0,
    successStreak: 0,
    streakStartedAt: null,
  };
  let changes = 0;
  for (const sample of samples) {
    const decision = decideAlert(counters, { ok: sample.ok, startedAt: sample.at }, sample.at, policy);
    counters = decision.counters;
    if (decision.raise !== null) changes++;
  }
  return changes;
}
