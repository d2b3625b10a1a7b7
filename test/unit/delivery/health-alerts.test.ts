import { describe, expect, it } from 'vitest';
import {
  type AlertDecision,
  alertPolicy,
  decideAlert,
  HEALTH_ALERT_DEFAULTS,
  type HealthAlertPolicy,
} from '../../../src/delivery/health-alerts.js';
import type { EndpointAlertCounters } from '../../../src/store/store.js';
import { seededRandom } from '../../helpers/random.js';

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;

const POLICY: HealthAlertPolicy = {
  failingAfter: 3,
  recoverAfterSuccesses: 3,
  recoverAfterMs: MINUTE,
  minDwellMs: 3 * MINUTE,
};

/** A new endpoint's counters. */
const FRESH: EndpointAlertCounters = {
  state: 'ok',
  changedAt: null,
  consecutiveFailures: 0,
  successStreak: 0,
  streakStartedAt: null,
};

/** The policy before hysteresis: failing at the streak, recovered at the next success. */
const LEGACY: HealthAlertPolicy = {
  failingAfter: 5,
  recoverAfterSuccesses: 1,
  recoverAfterMs: 0,
  minDwellMs: 0,
};

/** Feeds attempts (started and recorded at `T0 + ms`) through the rule; what each one raised. */
function run(
  attempts: Array<[ok: boolean, ms: number]>,
  policy: HealthAlertPolicy = POLICY,
  start: EndpointAlertCounters = FRESH,
): { raised: Array<AlertDecision['raise']>; counters: EndpointAlertCounters } {
  let counters = start;
  const raised: Array<AlertDecision['raise']> = [];
  for (const [ok, ms] of attempts) {
    const decision = decideAlert(counters, { ok, startedAt: new Date(T0 + ms) }, new Date(T0 + ms), policy);
    counters = decision.counters;
    raised.push(decision.raise);
  }
  return { raised, counters };
}

/** Only the attempts that raised something: `[index, kind]`. */
function changes(raised: Array<AlertDecision['raise']>): Array<[number, string]> {
  return raised.flatMap((kind, i) => (kind === null ? [] : [[i, kind] as [number, string]]));
}

const fail = (ms: number): [boolean, number] => [false, ms];
const ok = (ms: number): [boolean, number] => [true, ms];

describe('decideAlert', () => {
  it('raises failing at the failingAfter-th failure in a row, once', () => {
    const { raised, counters } = run([fail(0), fail(1), fail(2), fail(3), fail(4)]);
    expect(raised).toEqual([null, null, 'failing', null, null]);
    expect(counters).toEqual({
      state: 'failing',
      changedAt: new Date(T0 + 2),
      consecutiveFailures: 5,
      successStreak: 0,
      streakStartedAt: null,
    });
  });

  it('a success before the streak is complete starts it over', () => {
    expect(changes(run([fail(0), fail(1), ok(2), fail(3), fail(4), fail(5)]).raised)).toEqual([
      [5, 'failing'],
    ]);
  });

  it('recovers after recoverAfterSuccesses successes with no failure for recoverAfterMs since the first', () => {
    const failing = run([fail(0), fail(1), fail(2)]).counters;
    const base = 5 * MINUTE;
    const { raised, counters } = run(
      [ok(base), ok(base + 10 * SECOND), ok(base + MINUTE - 1), ok(base + MINUTE), ok(base + MINUTE + 1)],
      POLICY,
      failing,
    );
    expect(raised).toEqual([null, null, null, 'recovered', null]);
    expect(counters).toMatchObject({
      state: 'ok',
      changedAt: new Date(T0 + base + MINUTE),
      successStreak: 5,
    });
  });

  it('a minute of successes is not enough while there are fewer than recoverAfterSuccesses of them', () => {
    const failing = run([fail(0), fail(1), fail(2)]).counters;
    const base = 5 * MINUTE;
    const { raised } = run([ok(base), ok(base + 2 * MINUTE), ok(base + 4 * MINUTE)], POLICY, failing);
    expect(raised).toEqual([null, null, 'recovered']);
  });

  it('a failure in the run of successes starts the minute over', () => {
    const failing = run([fail(0), fail(1), fail(2)]).counters;
    const base = 5 * MINUTE;
    const { raised } = run(
      [ok(base), ok(base + 20 * SECOND), fail(base + 40 * SECOND), ok(base + 50 * SECOND)],
      POLICY,
      failing,
    );
    expect(raised).toEqual([null, null, null, null]);
    const later = run(
      [ok(base + 80 * SECOND), ok(base + 100 * SECOND), ok(base + 110 * SECOND)],
      POLICY,
      run([ok(base), fail(base + 40 * SECOND), ok(base + 50 * SECOND)], POLICY, failing).counters,
    );
    expect(later.raised).toEqual([null, null, 'recovered']);
  });

  it('the run of successes starts at the earliest start among them, whatever order they finish in', () => {
    const failing = run([fail(0), fail(1), fail(2)]).counters;
    const base = 5 * MINUTE;
    // A slow attempt started first and finished last: the run began when it started.
    let counters = failing;
    const record = (startedMs: number, recordedMs: number) => {
      const decision = decideAlert(
        counters,
        { ok: true, startedAt: new Date(T0 + startedMs) },
        new Date(T0 + recordedMs),
        POLICY,
      );
      counters = decision.counters;
      return decision.raise;
    };
    expect(record(base + 10 * SECOND, base + 10 * SECOND)).toBeNull();
    expect(record(base, base + 15 * SECOND)).toBeNull();
    expect(counters.streakStartedAt).toEqual(new Date(T0 + base));
    expect(record(base + MINUTE, base + MINUTE)).toBe('recovered');
  });

  it('holds recovered back until minDwellMs after failing, then raises it at the next success', () => {
    const failing = run([fail(0), fail(1), fail(2)]).counters;
    const successes = Array.from({ length: 10 }, (_, i) => ok(10 * SECOND + i * 20 * SECOND));
    const { raised } = run(successes, POLICY, failing);
    // Successes at 10 s … 190 s; the dwell after failing at 2 ms ends at 180.002 s.
    expect(changes(raised)).toEqual([[9, 'recovered']]);
  });

  it('holds failing back until minDwellMs after recovered, then raises it at the next failure if the streak lasts', () => {
    const recovered = run([fail(0), fail(1), fail(2), ok(4 * MINUTE), ok(4.5 * MINUTE), ok(5 * MINUTE)]);
    expect(changes(recovered.raised)).toEqual([
      [2, 'failing'],
      [5, 'recovered'],
    ]);
    const failures = Array.from({ length: 10 }, (_, i) => fail(5 * MINUTE + 10 * SECOND + i * 20 * SECOND));
    const { raised, counters } = run(failures, POLICY, recovered.counters);
    expect(changes(raised)).toEqual([[9, 'failing']]);
    expect(counters.consecutiveFailures).toBe(10);
  });

  it('a change held back by the dwell is dropped when its condition no longer holds at the next attempt', () => {
    const recovered = run([
      fail(0),
      fail(1),
      fail(2),
      ok(4 * MINUTE),
      ok(4.5 * MINUTE),
      ok(5 * MINUTE),
    ]).counters;
    const { raised } = run(
      [fail(5.1 * MINUTE), fail(5.2 * MINUTE), fail(5.3 * MINUTE), ok(6 * MINUTE), fail(9 * MINUTE)],
      POLICY,
      recovered,
    );
    expect(raised).toEqual([null, null, null, null, null]);
  });

  it('an endpoint left undecided by migration 008 is failing if its streak had reached failingAfter', () => {
    const undecided = { ...FRESH, state: null, consecutiveFailures: 4 };
    // Already failing: no second failing; a minute of successes recovers it, with no dwell to wait.
    expect(run([fail(0)], POLICY, undecided).raised).toEqual([null]);
    expect(run([fail(0)], POLICY, undecided).counters.state).toBe('failing');
    expect(run([ok(0), ok(30 * SECOND), ok(MINUTE)], POLICY, undecided).raised).toEqual([
      null,
      null,
      'recovered',
    ]);
    // Below the streak: still ok, and the failure that completes it raises failing.
    const short = { ...FRESH, state: null, consecutiveFailures: 1 };
    expect(run([fail(0), fail(1)], POLICY, short).raised).toEqual([null, 'failing']);
    expect(run([ok(0)], POLICY, short).counters.state).toBe('ok');
  });
});

describe('alertPolicy', () => {
  it('asks as many successes to recover as failures to fail, over a minute, with a 3-minute dwell', () => {
    expect(alertPolicy({ failingAfter: 5 })).toEqual({
      failingAfter: 5,
      recoverAfterSuccesses: 5,
      recoverAfterMs: 60_000,
      minDwellMs: 180_000,
    });
    expect(HEALTH_ALERT_DEFAULTS).toEqual({ recoverAfterMs: 60_000, minDwellMs: 180_000 });
    expect(
      alertPolicy({ failingAfter: 2, recoverAfterSuccesses: 7, recoverAfterMs: 5, minDwellMs: 0 }),
    ).toEqual({ failingAfter: 2, recoverAfterSuccesses: 7, recoverAfterMs: 5, minDwellMs: 0 });
  });
});

describe('a receiver failing half of its requests', () => {
  /** Six minutes of attempts every `gapMs`, each failing with probability ½: what was raised. */
  function sixMinutes(policy: HealthAlertPolicy, gapMs: number, seed: number): Array<[number, string]> {
    const random = seededRandom(seed);
    const attempts: Array<[boolean, number]> = [];
    for (let ms = 0; ms < 6 * MINUTE; ms += gapMs) attempts.push([random() >= 0.5, ms]);
    return changes(run(attempts, policy).raised).map(([i, kind]) => [attempts[i]?.[1] ?? -1, kind]);
  }

  const DEFAULTS = alertPolicy({ failingAfter: 5 });

  it('flapped with the rule before hysteresis: several failing and recovered in six minutes', () => {
    const counts = [1, 2, 3].map((seed) => sixMinutes(LEGACY, SECOND, seed).length);
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(4);
  });

  for (const gapMs of [50, 200, SECOND]) {
    it(`attempted every ${gapMs} ms, raises failing once and never recovered in six minutes`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const raised = sixMinutes(DEFAULTS, gapMs, seed);
        expect(
          raised.map(([, kind]) => kind),
          `seed ${seed}`,
        ).toEqual(['failing']);
      }
    });
  }

  for (const gapMs of [5 * SECOND, 10 * SECOND, 30 * SECOND]) {
    it(`attempted every ${gapMs / SECOND} s, changes at most once per dwell`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const times = sixMinutes(DEFAULTS, gapMs, seed).map(([ms]) => ms);
        for (let i = 1; i < times.length; i++) {
          expect((times[i] ?? 0) - (times[i - 1] ?? 0), `seed ${seed}`).toBeGreaterThanOrEqual(
            DEFAULTS.minDwellMs,
          );
        }
      }
    });
  }
});

describe('an endpoint that truly recovers', () => {
  const DEFAULTS = alertPolicy({ failingAfter: 5 });

  /** `downMs` of failures then successes, an attempt every `gapMs`: when failing and recovered were raised. */
  function outage(downMs: number, gapMs: number): Array<[number, string]> {
    const attempts: Array<[boolean, number]> = [];
    for (let ms = 0; ms < downMs + 5 * MINUTE; ms += gapMs) attempts.push([ms >= downMs, ms]);
    return changes(run(attempts, DEFAULTS).raised).map(([i, kind]) => [attempts[i]?.[1] ?? -1, kind]);
  }

  it('after a long outage reports recovered a minute after it is back', () => {
    const raised = outage(10 * MINUTE, SECOND);
    expect(raised).toEqual([
      [4 * SECOND, 'failing'],
      [11 * MINUTE, 'recovered'],
    ]);
  });

  it('after an outage shorter than the dwell reports recovered when the dwell ends', () => {
    const raised = outage(30 * SECOND, SECOND);
    expect(raised).toEqual([
      [4 * SECOND, 'failing'],
      [3 * MINUTE + 4 * SECOND, 'recovered'],
    ]);
  });

  it('with little traffic waits for failingAfter successes, the first a minute or more before', () => {
    const raised = outage(10 * MINUTE, 30 * SECOND);
    // Failures at 0 … 120 s; successes from 600 s: the fifth is at 720 s.
    expect(raised).toEqual([
      [2 * MINUTE, 'failing'],
      [12 * MINUTE, 'recovered'],
    ]);
  });
});
