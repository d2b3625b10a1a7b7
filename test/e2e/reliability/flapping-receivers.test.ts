import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type Behaviour,
  FAULTS,
  type Fault,
  type FlakyAttempt,
  type FlakyReceiver,
  type Plan,
  pick,
  seededRandom,
  startFlakyReceiver,
} from '../../helpers/flaky-receiver.js';
import {
  allDeliveries,
  allEvents,
  createSendGridSource,
  type DeliveryView,
} from '../../helpers/pg-database.js';
import { killAll, removeDir, startServer, tempDataDir, waitFor } from '../../helpers/process.js';
import {
  type AttemptView,
  attemptsOf,
  createEndpoint,
  postBatch,
  runSeed,
  tally,
} from '../../helpers/reliability.js';
import { sendGridEvents, sendGridSigner } from '../../helpers/sendgrid.js';

/**
 * Flapping receivers: every event meets a random mix of 500s, 429/503 with Retry-After, requests
 * left hanging past the timeout, connection resets and slow bodies before it succeeds (or never
 * does). The policy under test is the configured one: 8 attempts, 100 ms apart (±20% jitter), a
 * Retry-After honoured (at least 1 s), a timeout of 1 s.
 */

const SCHEDULE = [0, 100, 100, 100, 100, 100, 100, 100];
const TIMEOUT_MS = 1000;
const RETRY_AFTER_SEC = 1;
const EVENTS = 120;
const ENV = {
  MAILHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  MAILHOOK_RETRY_SCHEDULE: SCHEDULE.map((ms) => `${ms}ms`).join(','),
  MAILHOOK_DELIVERY_TIMEOUT: `${TIMEOUT_MS}ms`,
  MAILHOOK_LOG_LEVEL: 'warn',
};

const dirs: string[] = [];
const receivers: FlakyReceiver[] = [];

afterEach(async () => {
  await killAll();
  for (const receiver of receivers.splice(0)) await receiver.close();
});

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

/** What the attempt log must say about an attempt the receiver treated this way. */
function expectedRecord(behaviour: Behaviour): Pick<AttemptView, 'ok' | 'http_status' | 'error_class'> {
  switch (behaviour) {
    case 'ok':
    case 'slow-body-ok':
      return { ok: true, http_status: 200, error_class: null };
    case '500':
    case '429':
    case '503':
      return { ok: false, http_status: Number(behaviour), error_class: null };
    case 'reset':
      return { ok: false, http_status: null, error_class: 'connection_reset' };
    // A 200 status line whose body never completes is a timeout, not a success.
    case 'timeout':
    case 'slow-body-timeout':
      return { ok: false, http_status: null, error_class: 'timeout' };
  }
}

/**
 * The least time the policy allows between the start of attempt n and the start of attempt n + 1,
 * measured at the receiver: Retry-After (≥ 1 s) after 429/503, the scheduled 100 ms −20% otherwise,
 * both counted from the end of attempt n (for a hanging request, when the sender gave up and closed
 * the connection, as the receiver saw it).
 */
function minimumGap(previous: FlakyAttempt, loggedEnd: number | null): { from: number; ms: number } {
  const hung = previous.behaviour === 'timeout' || previous.behaviour === 'slow-body-timeout';
  // The retry is timed from when mailhook saw the attempt end (its attempt log): this process may
  // notice the close of a hung request tens of ms later on a loaded machine.
  const noticed = previous.endedAt ?? previous.receivedAt + TIMEOUT_MS;
  const from = loggedEnd === null ? noticed : Math.min(noticed, loggedEnd);
  const scheduled = (SCHEDULE[previous.nth] ?? 0) * 0.8;
  const ms =
    previous.behaviour === '429' || previous.behaviour === '503'
      ? RETRY_AFTER_SEC * 1000
      : hung
        ? Math.max(scheduled, 100)
        : scheduled;
  // Slack for this process noticing a close or a request late (its event loop is busy on a loaded
  // machine); a retry with no wait at all still falls far below what is left.
  return { from, ms: ms - (hung ? 60 : 30) };
}

describe('delivery to flapping receivers', () => {
  it('delivers every event through random 500s, 429s, timeouts, resets and slow bodies with exactly the attempts the policy allows', async () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    const plans: Plan[] = [];
    const planFor = (): Plan => {
      // One event in ten never succeeds: the policy must give up after its last scheduled attempt.
      // Those use the quick faults only, so the test does not wait 8 timeouts per hopeless event.
      if (random() < 0.1) {
        const quick: Fault[] = ['500', 'reset', '503'];
        const plan: Plan = { faults: SCHEDULE.map(() => pick(random, quick)), success: null };
        plans.push(plan);
        return plan;
      }
      const count = Math.floor(random() * (SCHEDULE.length - 1));
      const plan: Plan = {
        faults: Array.from({ length: count }, () => pick(random, FAULTS)),
        success: random() < 0.3 ? 'slow-body-ok' : 'ok',
      };
      plans.push(plan);
      return plan;
    };

    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const server = await startServer({ dataDir, env: ENV });
    const target = await startFlakyReceiver({
      planFor,
      senderTimeoutMs: TIMEOUT_MS,
      retryAfterSec: RETRY_AFTER_SEC,
    });
    receivers.push(target);
    const endpoint = await createEndpoint(server.url, target.url, { max_concurrency: 50 });
    target.secrets = [endpoint.secret];
    const signer = sendGridSigner();
    const sourceId = await createSendGridSource(server.url, signer, 'flapping receivers');

    const started = performance.now();
    for (let i = 0; i < EVENTS / 20; i++) {
      const answer = await postBatch(server.url, sourceId, signer, sendGridEvents(20));
      expect(answer.status, answer.body).toBe(200);
    }
    const deliveries: DeliveryView[] = await waitFor(
      'every delivery to finish',
      async () => {
        const list = await allDeliveries(server.url, endpoint.id);
        return list.length === EVENTS && list.every((d) => d.status !== 'pending') ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const elapsedMs = performance.now() - started;
    // Only this source's events: mailhook also stores its own system.* events (failing endpoint…).
    const events = (await allEvents(server.url)).filter((e) => e.data.source_id === sourceId);
    expect(events).toHaveLength(EVENTS);

    const problems: string[] = [];
    const lateness: number[] = [];
    let gaps = 0;
    for (const delivery of deliveries) {
      const plan = target.plan(delivery.event_id);
      const seen = target.byId(delivery.event_id);
      if (!plan) {
        problems.push(`${delivery.event_id}: never reached the receiver`);
        continue;
      }
      const expectedAttempts = plan.success === null ? SCHEDULE.length : plan.faults.length + 1;
      const expectedStatus = plan.success === null ? 'failed' : 'succeeded';
      const log = await attemptsOf(server.url, delivery.id);
      const label = `${delivery.event_id} [${plan.faults.join(' ')} → ${plan.success ?? 'never'}]`;
      if (delivery.status !== expectedStatus)
        problems.push(`${label}: ${delivery.status}, ${delivery.last_error}`);
      if (seen.length !== expectedAttempts) problems.push(`${label}: ${seen.length} requests received`);
      if (delivery.attempts !== expectedAttempts || log.length !== expectedAttempts) {
        problems.push(`${label}: ${delivery.attempts} attempts counted, ${log.length} logged`);
      }
      for (const [i, attempt] of log.entries()) {
        const want = expectedRecord(target.behaviourOf(plan, i + 1));
        const got = { ok: attempt.ok, http_status: attempt.http_status, error_class: attempt.error_class };
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          problems.push(
            `${label}: attempt ${i + 1} logged ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`,
          );
        }
      }
      for (let i = 1; i < seen.length; i++) {
        const previous = seen[i - 1] as FlakyAttempt;
        const next = seen[i] as FlakyAttempt;
        const logged = log.find((entry) => entry.attempt === previous.nth);
        // On this process's clock (performance.now()), like the receiver's times.
        const loggedEnd = logged
          ? Date.parse(logged.started_at) + logged.duration_ms - performance.timeOrigin
          : null;
        const gap = minimumGap(previous, loggedEnd);
        const waited = next.receivedAt - gap.from;
        gaps++;
        lateness.push(waited - gap.ms);
        if (waited < gap.ms) {
          problems.push(
            `${label}: attempt ${next.nth} came ${waited.toFixed(0)} ms after attempt ${previous.nth} (${previous.behaviour}); the policy needs ${gap.ms.toFixed(0)} ms`,
          );
        }
      }
      if (plan.success === null && !/gave up after 8 attempts/.test(delivery.last_error ?? '')) {
        problems.push(`${label}: last_error ${delivery.last_error}`);
      }
    }
    const badSignatures = target.attempts.filter(
      (a) => a.check === null || a.check.standardwebhooks !== true || a.check.svix !== true,
    );
    const hopeless = plans.filter((p) => p.success === null).length;
    console.log(
      `flapping receivers (seed ${seed}): ${EVENTS} events, ${target.attempts.length} requests in ` +
        `${(elapsedMs / 1000).toFixed(1)} s; behaviours ${JSON.stringify(tally(target.attempts, (a) => a.behaviour))}; ` +
        `${EVENTS - hopeless} succeeded, ${hopeless} gave up after ${SCHEDULE.length} attempts as planned; ` +
        `retry gaps beyond the policy's minimum: median ${lateness.sort((a, b) => a - b)[Math.floor(lateness.length / 2)]?.toFixed(0)} ms, ` +
        `max ${Math.max(...lateness).toFixed(0)} ms over ${gaps} gaps`,
    );

    expect(problems, `seed ${seed}`).toEqual([]);
    expect(badSignatures.map((a) => a.webhookId)).toEqual([]);
    // Every fault kind really happened in this run, so none of the properties held vacuously.
    expect(new Set(target.attempts.map((a) => a.behaviour))).toEqual(
      new Set([...FAULTS, 'ok', 'slow-body-ok']),
    );
    // No retry waited absurdly long either (a stuck worker would show here).
    expect(Math.max(...lateness)).toBeLessThan(5000);
  }, 80_000);
});
