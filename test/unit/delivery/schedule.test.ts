import { describe, expect, it } from 'vitest';
import {
  type AttemptOutcome,
  DEFAULT_RETRY_POLICY,
  nextAttempt,
  parseRetryAfter,
  type RetryPolicy,
  shouldAutoDisable,
} from '../../../src/delivery/schedule.js';

const NOW = new Date('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

// random() = 0.5 makes the jitter factor exactly 1, so the schedule shows through unchanged.
const middle = () => 0.5;
const serverError: AttemptOutcome = { kind: 'http', status: 500 };

function retryDelay(
  outcome: AttemptOutcome,
  attemptsMade = 1,
  random = middle,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number {
  const next = nextAttempt(policy, attemptsMade, outcome, random, NOW);
  if (next.action !== 'retry') throw new Error(`expected a retry, got ${JSON.stringify(next)}`);
  expect(next.at.getTime()).toBe(NOW.getTime() + next.delayMs);
  return next.delayMs;
}

describe('the default retry policy', () => {
  it('delivers immediately, then waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h', () => {
    expect(DEFAULT_RETRY_POLICY.scheduleMs).toEqual([
      0,
      5 * SECOND,
      5 * MINUTE,
      30 * MINUTE,
      2 * HOUR,
      5 * HOUR,
      10 * HOUR,
      10 * HOUR,
    ]);
    expect(DEFAULT_RETRY_POLICY.jitter).toBe(0.2);
    expect(DEFAULT_RETRY_POLICY.minRetryAfterMs).toBe(SECOND);
    expect(DEFAULT_RETRY_POLICY.maxRetryAfterMs).toBe(HOUR);
    expect(DEFAULT_RETRY_POLICY.floorAfterTimeoutMs).toBe(30 * SECOND);
    expect(DEFAULT_RETRY_POLICY.floorAfter429Ms).toBe(60 * SECOND);
  });
});

describe('nextAttempt', () => {
  it('reports success for the success outcome and for every 2xx status', () => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'success' }, middle, NOW)).toEqual({
      action: 'succeeded',
    });
    for (const status of [200, 201, 202, 204, 299]) {
      expect(nextAttempt(DEFAULT_RETRY_POLICY, 3, { kind: 'http', status }, middle, NOW)).toEqual({
        action: 'succeeded',
      });
    }
  });

  it('takes the delay after n attempts from scheduleMs[n]', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(serverError, n));
    expect(delays).toEqual(DEFAULT_RETRY_POLICY.scheduleMs.slice(1));
  });

  it('retries every non-2xx status other than 410, including redirects and client errors', () => {
    for (const status of [100, 301, 400, 401, 404, 500, 502, 503]) {
      expect(retryDelay({ kind: 'http', status })).toBe(5 * SECOND);
    }
  });

  it('retries network errors with the scheduled delay', () => {
    expect(retryDelay({ kind: 'error', errorClass: 'connection_refused' }, 2)).toBe(5 * MINUTE);
  });

  it('fails once the last scheduled delay has been used, naming the last outcome', () => {
    const next = nextAttempt(DEFAULT_RETRY_POLICY, 8, serverError, middle, NOW);
    expect(next).toEqual({ action: 'fail', reason: 'gave up after 8 attempts; the last one got HTTP 500' });
    const afterError = nextAttempt(
      DEFAULT_RETRY_POLICY,
      8,
      { kind: 'error', errorClass: 'dns' },
      middle,
      NOW,
    );
    expect(afterError).toMatchObject({ action: 'fail', reason: expect.stringContaining('failed with dns') });
  });

  it('fails an exhausted delivery even when the receiver sent Retry-After', () => {
    const outcome: AttemptOutcome = { kind: 'http', status: 503, retryAfter: '10' };
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 8, outcome, middle, NOW).action).toBe('fail');
  });

  it('disables the endpoint on 410 Gone instead of retrying, even with attempts left', () => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'http', status: 410 }, middle, NOW)).toEqual({
      action: 'disable_endpoint',
      reason: 'endpoint answered 410 Gone',
    });
  });

  it('refuses an attempt count below one, since the policy runs after an attempt', () => {
    expect(() => nextAttempt(DEFAULT_RETRY_POLICY, 0, serverError, middle, NOW)).toThrow(RangeError);
    expect(() => nextAttempt(DEFAULT_RETRY_POLICY, 1.5, serverError, middle, NOW)).toThrow(RangeError);
  });
});

describe('jitter', () => {
  it('shortens the delay by the full jitter when random() is 0', () => {
    expect(retryDelay(serverError, 2, () => 0)).toBe(4 * MINUTE);
  });

  it('lengthens the delay by just under the full jitter when random() is almost 1', () => {
    const delay = retryDelay(serverError, 2, () => 0.999_999_999);
    expect(delay).toBeLessThanOrEqual(6 * MINUTE);
    expect(delay).toBeGreaterThan(6 * MINUTE - 10);
  });

  it('rounds the jittered delay to whole milliseconds', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, scheduleMs: [0, 1001] };
    expect(retryDelay(serverError, 1, () => 0.3, policy)).toBe(921);
  });

  it('never produces a negative delay, whatever the jitter', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, jitter: 2 };
    expect(retryDelay(serverError, 2, () => 0, policy)).toBe(0);
  });

  it('keeps a zero delay at zero', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, scheduleMs: [0, 0, 5] };
    expect(retryDelay(serverError, 1, () => 0.99, policy)).toBe(0);
  });
});

describe('Retry-After', () => {
  it('replaces the scheduled delay on 503 when given in seconds', () => {
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: '120' }, 6)).toBe(120 * SECOND);
  });

  it('replaces the scheduled delay on 503 when given as an HTTP date', () => {
    const retryAfter = 'Thu, 26 Nov 2026 12:10:00 GMT';
    expect(retryDelay({ kind: 'http', status: 503, retryAfter })).toBe(10 * MINUTE);
  });

  it('is not jittered, since it names the moment the receiver expects to be ready', () => {
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: '120' }, 1, () => 0)).toBe(120 * SECOND);
  });

  it('replaces the scheduled delay on 429 when it is above the 429 floor', () => {
    expect(retryDelay({ kind: 'http', status: 429, retryAfter: '90' }, 3)).toBe(90 * SECOND);
  });

  it('is ignored on statuses other than 429 and 503', () => {
    expect(retryDelay({ kind: 'http', status: 500, retryAfter: '120' })).toBe(5 * SECOND);
    expect(retryDelay({ kind: 'http', status: 502, retryAfter: '120' })).toBe(5 * SECOND);
  });

  it('falls back to the jittered schedule when the value is garbage or missing', () => {
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: 'soon' }, 1, () => 0)).toBe(4 * SECOND);
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: null }, 1, () => 0)).toBe(4 * SECOND);
    expect(retryDelay({ kind: 'http', status: 503 }, 1, () => 0)).toBe(4 * SECOND);
  });

  it('is raised to one second so that "0" or a past date cannot cause a tight loop', () => {
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: '0' })).toBe(SECOND);
    const past = 'Wed, 25 Nov 2026 12:00:00 GMT';
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: past })).toBe(SECOND);
  });

  it('is capped at one hour so that a receiver cannot stall its deliveries for days', () => {
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: '86400' })).toBe(HOUR);
    expect(retryDelay({ kind: 'http', status: 429, retryAfter: '999999999999999999999999' })).toBe(HOUR);
  });
});

describe('floors', () => {
  it('waits at least 30 s after a timeout, where the schedule says 5 s', () => {
    expect(retryDelay({ kind: 'error', errorClass: 'timeout' }, 1)).toBe(30 * SECOND);
  });

  it('keeps a scheduled delay above the timeout floor', () => {
    expect(retryDelay({ kind: 'error', errorClass: 'timeout' }, 2)).toBe(5 * MINUTE);
  });

  it('does not apply the timeout floor to other errors', () => {
    expect(retryDelay({ kind: 'error', errorClass: 'connection_reset' }, 1)).toBe(5 * SECOND);
  });

  it('waits at least 60 s after a 429 without Retry-After', () => {
    expect(retryDelay({ kind: 'http', status: 429 }, 1)).toBe(60 * SECOND);
  });

  it('honours a Retry-After on a 429 that asks for less than the 429 floor', () => {
    expect(retryDelay({ kind: 'http', status: 429, retryAfter: '5' }, 1)).toBe(5 * SECOND);
  });

  it('does not apply the 429 floor to a 503 with a short Retry-After', () => {
    expect(retryDelay({ kind: 'http', status: 503, retryAfter: '5' }, 1)).toBe(5 * SECOND);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds as milliseconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 30 ', NOW)).toBe(30 * SECOND);
  });

  it('reads the three HTTP-date forms relative to now', () => {
    expect(parseRetryAfter('Thu, 26 Nov 2026 12:01:00 GMT', NOW)).toBe(MINUTE);
    expect(parseRetryAfter('Thursday, 26-Nov-26 12:01:00 GMT', NOW)).toBe(MINUTE);
    expect(parseRetryAfter('Thu Nov 26 12:01:00 2026', NOW)).toBe(MINUTE);
    expect(parseRetryAfter('Tue Dec  1 12:00:00 2026', NOW)).toBe(5 * 24 * HOUR);
  });

  it('returns zero, not a negative delay, for a date in the past', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0);
  });

  it('returns null for missing and unreadable values', () => {
    for (const value of [
      undefined,
      null,
      '',
      'soon',
      '-5',
      '1.5',
      '1e3',
      'Thu, 31 Feb 2026 12:00:00 GMT',
      'Thu, 26 Nov 2026 25:00:00 GMT',
      '2026-11-26T12:01:00Z',
      'Thu, 26 Nov 2026 12:01:00 CET',
    ]) {
      expect(parseRetryAfter(value, NOW), String(value)).toBeNull();
    }
  });
});

describe('shouldAutoDisable', () => {
  const graceMs = 5 * 24 * HOUR;
  const daysAgo = (days: number) => new Date(NOW.getTime() - days * 24 * HOUR);

  it('keeps an endpoint that has never failed', () => {
    expect(shouldAutoDisable({ firstFailureAt: null, lastSuccessAt: daysAgo(10), now: NOW, graceMs })).toBe(
      false,
    );
  });

  it('keeps an endpoint whose failures have lasted less than the grace period', () => {
    expect(shouldAutoDisable({ firstFailureAt: daysAgo(4), lastSuccessAt: null, now: NOW, graceMs })).toBe(
      false,
    );
  });

  it('disables an endpoint with nothing but failures for the whole grace period', () => {
    expect(shouldAutoDisable({ firstFailureAt: daysAgo(5), lastSuccessAt: null, now: NOW, graceMs })).toBe(
      true,
    );
    expect(
      shouldAutoDisable({ firstFailureAt: daysAgo(6), lastSuccessAt: daysAgo(30), now: NOW, graceMs }),
    ).toBe(true);
  });

  it('keeps an endpoint that succeeded at least once since its first failure', () => {
    expect(
      shouldAutoDisable({ firstFailureAt: daysAgo(6), lastSuccessAt: daysAgo(1), now: NOW, graceMs }),
    ).toBe(false);
    expect(
      shouldAutoDisable({ firstFailureAt: daysAgo(6), lastSuccessAt: daysAgo(6), now: NOW, graceMs }),
    ).toBe(false);
  });
});
