import { describe, expect, it } from 'vitest';
import { type AttemptSample, nearestRank, summarizeHealth } from '../../../src/delivery/health.js';

const NOW = new Date('2026-11-26T12:00:00.000Z');
const MINUTE = 60 * 1000;

function sample(minutesAgo: number, ok: boolean, durationMs = 100): AttemptSample {
  return { at: new Date(NOW.getTime() - minutesAgo * MINUTE), ok, durationMs };
}

function summary(
  samples: AttemptSample[],
  options: { consecutiveFailures?: number; status?: 'active' | 'paused' | 'disabled' } = {},
) {
  return summarizeHealth({
    samples,
    now: NOW,
    consecutiveFailures: options.consecutiveFailures ?? 0,
    lastSuccessAt: null,
    status: options.status ?? 'active',
  });
}

/** `ok` successes and `failed` failures within the last hour. */
function recent(ok: number, failed: number): AttemptSample[] {
  return [
    ...Array.from({ length: ok }, (_, i) => sample(i + 1, true)),
    ...Array.from({ length: failed }, (_, i) => sample(i + 1, false)),
  ];
}

describe('summarizeHealth', () => {
  it('reports no data as null rates and percentiles, and a healthy state', () => {
    const result = summary([]);
    expect(result).toEqual({
      state: 'healthy',
      windows: {
        '1h': { attempts: 0, success_rate: null, latency_ms: { p50: null, p95: null, p99: null } },
        '24h': { attempts: 0, success_rate: null, latency_ms: { p50: null, p95: null, p99: null } },
      },
      consecutive_failures: 0,
      last_success_at: null,
    });
  });

  it('counts attempts into the 1 h and 24 h windows by age, whatever their order', () => {
    const samples = [sample(30, true), sample(23 * 60, false), sample(59, false), sample(25 * 60, true)];
    const result = summary(samples.reverse());
    expect(result.windows['1h']).toMatchObject({ attempts: 2, success_rate: 0.5 });
    expect(result.windows['24h']).toMatchObject({ attempts: 3, success_rate: 1 / 3 });
  });

  it('leaves out an attempt exactly one window old and keeps one stamped slightly after now', () => {
    const result = summary([sample(60, true), sample(-0.01, true)]);
    expect(result.windows['1h'].attempts).toBe(1);
    expect(result.windows['24h'].attempts).toBe(2);
  });

  it('computes nearest-rank latency percentiles over successes and failures alike', () => {
    const samples = Array.from({ length: 100 }, (_, i) => sample(1, i % 2 === 0, 100 - i));
    expect(summary(samples).windows['1h'].latency_ms).toEqual({ p50: 50, p95: 95, p99: 99 });
    expect(summary([sample(1, false, 15_000)]).windows['1h'].latency_ms).toEqual({
      p50: 15_000,
      p95: 15_000,
      p99: 15_000,
    });
  });

  it('passes the consecutive failures and the last success through, the latter as ISO 8601', () => {
    const result = summarizeHealth({
      samples: [],
      now: NOW,
      consecutiveFailures: 2,
      lastSuccessAt: new Date('2026-11-26T11:00:00.000Z'),
      status: 'active',
    });
    expect(result.consecutive_failures).toBe(2);
    expect(result.last_success_at).toBe('2026-11-26T11:00:00.000Z');
  });

  it('takes the state from the status when the endpoint is paused or disabled', () => {
    expect(summary(recent(0, 10), { status: 'paused', consecutiveFailures: 10 }).state).toBe('paused');
    expect(summary(recent(10, 0), { status: 'disabled' }).state).toBe('disabled');
  });

  it('is failing after five consecutive failures', () => {
    expect(summary([], { consecutiveFailures: 5 }).state).toBe('failing');
    expect(summary([], { consecutiveFailures: 4 }).state).toBe('degraded');
  });

  it('is failing when under half of at least five attempts in the last hour succeeded', () => {
    expect(summary(recent(2, 3)).state).toBe('failing');
    expect(summary(recent(3, 3)).state).toBe('degraded');
  });

  it('is degraded when under 95% of at least five attempts in the last hour succeeded', () => {
    expect(summary(recent(18, 2)).state).toBe('degraded');
    expect(summary(recent(19, 1)).state).toBe('healthy');
  });

  it('judges no rate on fewer than five attempts in the last hour', () => {
    expect(summary(recent(0, 4)).state).toBe('healthy');
    expect(summary([...recent(0, 4), sample(120, false)]).state).toBe('healthy');
  });

  it('is degraded after a single consecutive failure', () => {
    expect(summary(recent(20, 0), { consecutiveFailures: 1 }).state).toBe('degraded');
  });
});

describe('nearestRank', () => {
  it('picks the smallest value with p% of the list at or below it', () => {
    expect(nearestRank([15, 20, 35, 40, 50], 30)).toBe(20);
    expect(nearestRank([15, 20, 35, 40, 50], 40)).toBe(20);
    expect(nearestRank([15, 20, 35, 40, 50], 50)).toBe(35);
    expect(nearestRank([15, 20, 35, 40, 50], 100)).toBe(50);
    expect(nearestRank([15, 20, 35, 40, 50], 0)).toBe(15);
    expect(nearestRank([], 50)).toBeNull();
  });
});
