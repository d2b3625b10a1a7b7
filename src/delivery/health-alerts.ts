import type { EndpointAlertCounters, EndpointAlertState, RecordOptions } from '../store/delivery-types.js';

/**
 * When an endpoint's attempts raise `system.endpoint.failing` and `system.endpoint.recovered`: with
 * hysteresis, so that a receiver that fails half of its requests raises `failing` once and then
 * stays failing, instead of alternating on every short run of failures and every lucky success.
 *
 * - `failing`: `failingAfter` (MAILHOOK_FAILING_AFTER) failures in a row while the alert is `ok`.
 * - `recovered`: while `failing`, at least `recoverAfterSuccesses` successes in a row (by default as
 *   many as it takes to fail), the first of them at least `recoverAfterMs` ago, and no failure since.
 *   One success proves little; a minute of nothing but successes does, and asking as many successes
 *   as failures keeps recovering no easier than failing on an endpoint with little traffic.
 * - At most one change per `minDwellMs` for an endpoint. A change the dwell holds back is not
 *   queued: it is raised at the first attempt after the dwell if its condition still holds then.
 *
 * The store runs this inside the transaction that records the attempts (RecordOptions carries the
 * settings): the decision must read and write the endpoint's counters atomically, or two nodes would
 * raise the same change. So decisions are taken only when an attempt is recorded, and an endpoint
 * with no traffic keeps its alert until its next attempt.
 * `system.delivery.exhausted` and `system.endpoint.disabled` are not alerts and are not held back.
 */

export interface HealthAlertPolicy {
  failingAfter: number;
  recoverAfterSuccesses: number;
  recoverAfterMs: number;
  minDwellMs: number;
}

/**
 * A receiver failing each request with probability ½ and attempted every second or more often gets
 * one `failing` and then no `recovered` (that needs a minute without a failure): over an hour, 1
 * change instead of about 110 with the rule before (failing at the streak, recovered at the first
 * success). Attempted every 10 s, it gets about 2.5 changes an hour instead of 10. An endpoint that
 * came back reports it a minute later, or when the dwell ends if its outage was shorter than that.
 */
export const HEALTH_ALERT_DEFAULTS = {
  recoverAfterMs: 60_000,
  minDwellMs: 3 * 60_000,
} as const satisfies Omit<HealthAlertPolicy, 'failingAfter' | 'recoverAfterSuccesses'>;

export function alertPolicy(options: RecordOptions): HealthAlertPolicy {
  return {
    failingAfter: options.failingAfter,
    recoverAfterSuccesses: options.recoverAfterSuccesses ?? options.failingAfter,
    recoverAfterMs: options.recoverAfterMs ?? HEALTH_ALERT_DEFAULTS.recoverAfterMs,
    minDwellMs: options.minDwellMs ?? HEALTH_ALERT_DEFAULTS.minDwellMs,
  };
}

export interface AlertDecision {
  /** What the store writes back. */
  counters: EndpointAlertCounters;
  raise: 'failing' | 'recovered' | null;
}

/** The counters after one recorded attempt (`now`: when it is recorded), and the alert it raises. */
export function decideAlert(
  before: EndpointAlertCounters,
  attempt: { ok: boolean; startedAt: Date },
  now: Date,
  policy: HealthAlertPolicy,
): AlertDecision {
  const state = currentState(before, policy);
  const dwellOver =
    before.changedAt === null || now.getTime() - before.changedAt.getTime() >= policy.minDwellMs;
  if (!attempt.ok) {
    const consecutiveFailures = before.consecutiveFailures + 1;
    const raise = state === 'ok' && consecutiveFailures >= policy.failingAfter && dwellOver;
    return {
      counters: {
        state: raise ? 'failing' : state,
        changedAt: raise ? now : before.changedAt,
        consecutiveFailures,
        successStreak: 0,
        streakStartedAt: null,
      },
      raise: raise ? 'failing' : null,
    };
  }
  const successStreak = before.successStreak + 1;
  // Attempts are recorded as they finish, not as they start: the streak starts at its earliest.
  const streakStartedAt =
    before.streakStartedAt === null || attempt.startedAt < before.streakStartedAt
      ? attempt.startedAt
      : before.streakStartedAt;
  const raise =
    state === 'failing' &&
    successStreak >= policy.recoverAfterSuccesses &&
    now.getTime() - streakStartedAt.getTime() >= policy.recoverAfterMs &&
    dwellOver;
  return {
    counters: {
      state: raise ? 'ok' : state,
      changedAt: raise ? now : before.changedAt,
      consecutiveFailures: 0,
      successStreak,
      streakStartedAt,
    },
    raise: raise ? 'recovered' : null,
  };
}

/** The stored state, or for an endpoint left undecided by migration 008, what the old rule implied. */
function currentState(counters: EndpointAlertCounters, policy: HealthAlertPolicy): EndpointAlertState {
  if (counters.state !== null) return counters.state;
  return counters.consecutiveFailures >= policy.failingAfter ? 'failing' : 'ok';
}
