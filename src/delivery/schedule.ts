/**
 * Retry policy for deliveries: pure data plus pure functions, so every branch is unit-tested
 * without a clock, a network or a random source of its own.
 */

export interface RetryPolicy {
  /** `scheduleMs[i]` is the delay before attempt i + 1; `scheduleMs[0]` (normally 0) precedes the first. */
  scheduleMs: number[];
  /** Relative spread applied to scheduled delays: 0.2 means ±20%. */
  jitter: number;
  minRetryAfterMs: number;
  maxRetryAfterMs: number;
  floorAfterTimeoutMs: number;
  floorAfter429Ms: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const DEFAULT_RETRY_POLICY = {
  // Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27.5 hours in all, which rides
  // out a receiver's overnight outage, like the leading webhook services do.
  scheduleMs: [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  // Spreads retries of deliveries that failed together (one outage) so that they do not all hit
  // the receiver again in the same instant when it comes back.
  jitter: 0.2,
  // `Retry-After: 0` (or a date in the past) must not turn into a tight loop.
  minRetryAfterMs: 1 * SECOND,
  // A receiver asking for a day's pause would silently stall its deliveries; past an hour we go
  // back to asking rather than obeying.
  maxRetryAfterMs: 1 * HOUR,
  // A timeout often means the receiver is still working on the first attempt; retrying 5 s later
  // would pile a duplicate onto a slow receiver.
  floorAfterTimeoutMs: 30 * SECOND,
  // A 429 says the receiver is overloaded; the 5 s slot of the schedule is too eager for that.
  floorAfter429Ms: 60 * SECOND,
} satisfies RetryPolicy;

export type AttemptOutcome =
  | { kind: 'success' }
  | { kind: 'http'; status: number; retryAfter?: string | null }
  | { kind: 'error'; errorClass: string };

export type NextAttempt =
  | { action: 'succeeded' }
  | { action: 'retry'; at: Date; delayMs: number }
  | { action: 'fail'; reason: string }
  | { action: 'disable_endpoint'; reason: string };

/** Statuses whose `Retry-After` is honoured (RFC 9110 defines it for these two as a backoff hint). */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * Decides what follows an attempt. `attemptsMade` includes the attempt just made; `random` returns
 * a number in [0, 1) like `Math.random`.
 */
export function nextAttempt(
  policy: RetryPolicy,
  attemptsMade: number,
  outcome: AttemptOutcome,
  random: () => number,
  now: Date,
): NextAttempt {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) {
    throw new RangeError(`attemptsMade must be a positive integer, got ${attemptsMade}`);
  }
  if (outcome.kind === 'success') return { action: 'succeeded' };
  if (outcome.kind === 'http' && outcome.status >= 200 && outcome.status < 300) {
    return { action: 'succeeded' };
  }
  // 410 Gone is the receiver saying the URL will never work again: retrying is pointless and
  // every other delivery to it would fail the same way.
  if (outcome.kind === 'http' && outcome.status === 410) {
    return { action: 'disable_endpoint', reason: 'endpoint answered 410 Gone' };
  }

  const scheduled = policy.scheduleMs[attemptsMade];
  if (scheduled === undefined) {
    return {
      action: 'fail',
      reason: `gave up after ${attemptsMade} attempts; the last one ${describe(outcome)}`,
    };
  }

  let delayMs = applyJitter(scheduled, policy.jitter, random);
  let asked: number | null = null;
  if (outcome.kind === 'http' && RETRY_AFTER_STATUSES.has(outcome.status)) {
    asked = parseRetryAfter(outcome.retryAfter, now);
    // The receiver's own answer is more precise than our guess, so it replaces the schedule (and
    // is not jittered: it already names the moment the receiver expects to be ready).
    if (asked !== null) delayMs = clamp(asked, policy.minRetryAfterMs, policy.maxRetryAfterMs);
  }
  if (outcome.kind === 'error' && outcome.errorClass === 'timeout') {
    delayMs = Math.max(delayMs, policy.floorAfterTimeoutMs);
  }
  // The 429 floor stands in for a missing Retry-After; an explicit one is honoured as asked.
  if (outcome.kind === 'http' && outcome.status === 429 && asked === null) {
    delayMs = Math.max(delayMs, policy.floorAfter429Ms);
  }
  return { action: 'retry', at: new Date(now.getTime() + delayMs), delayMs };
}

function describe(outcome: Exclude<AttemptOutcome, { kind: 'success' }>): string {
  return outcome.kind === 'http' ? `got HTTP ${outcome.status}` : `failed with ${outcome.errorClass}`;
}

function applyJitter(delayMs: number, jitter: number, random: () => number): number {
  const factor = 1 + jitter * (2 * random() - 1);
  return Math.max(0, Math.round(delayMs * factor));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(?<month>${MONTHS.join('|')})`;
const TIME = '(?<h>\\d{2}):(?<m>\\d{2}):(?<s>\\d{2})';
// The three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7). `Date.parse` is not used
// because it accepts almost anything ("1.5", "soon 2024"), which would turn garbage into a delay.
const HTTP_DATE_FORMS = [
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  new RegExp(`^[A-Z][a-z]{2}, (?<day>\\d{2}) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`),
  // obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
  new RegExp(`^[A-Z][a-z]{5,8}, (?<day>\\d{2})-${MONTH}-(?<year>\\d{2}) ${TIME} GMT$`),
  // obsolete asctime: Sun Nov  6 08:49:37 1994
  new RegExp(`^[A-Z][a-z]{2} ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`),
];

/**
 * Reads a `Retry-After` value, either delta-seconds (`120`) or an HTTP-date, as milliseconds from
 * `now` (never negative). Returns null for a missing or unreadable value, so the caller falls back
 * to its schedule.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text) * SECOND;
    return Number.isFinite(ms) ? ms : null;
  }
  const at = parseHttpDate(text, now);
  return at === null ? null : Math.max(0, at - now.getTime());
}

function parseHttpDate(text: string, now: Date): number | null {
  for (const form of HTTP_DATE_FORMS) {
    const g = form.exec(text)?.groups;
    if (!g) continue;
    let year = Number(g.year);
    if (g.year?.length === 2) {
      // RFC 9110: a two-digit year more than 50 years ahead is in the previous century.
      year += 2000;
      if (year > now.getUTCFullYear() + 50) year -= 100;
    }
    const month = MONTHS.indexOf(g.month ?? '');
    const day = Number(g.day);
    const [h, m, s] = [Number(g.h), Number(g.m), Number(g.s)];
    // Date.UTC rolls "31 Feb" or "25:00" over; such a value is garbage, not a moment. (60 s is
    // allowed: HTTP-date keeps room for a leap second.)
    if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day || h > 23 || m > 59 || s > 60) {
      return null;
    }
    return Date.UTC(year, month, day, h, m, s);
  }
  return null;
}

/**
 * An endpoint is disabled only after a grace period of nothing but failures: one success since
 * the first failure of the streak means the receiver is alive, however flaky.
 */
export function shouldAutoDisable(input: {
  firstFailureAt: Date | null;
  lastSuccessAt: Date | null;
  now: Date;
  graceMs: number;
}): boolean {
  const { firstFailureAt, lastSuccessAt, now, graceMs } = input;
  if (firstFailureAt === null) return false;
  if (lastSuccessAt !== null && lastSuccessAt.getTime() >= firstFailureAt.getTime()) return false;
  return now.getTime() - firstFailureAt.getTime() >= graceMs;
}
