/**
 * An endpoint's health as the API and dashboard show it, computed from recent attempts. Pure: the
 * store supplies the samples and counters, this decides what they mean.
 */

export interface AttemptSample {
  at: Date;
  ok: boolean;
  durationMs: number;
}

export interface WindowStats {
  attempts: number;
  /** Successful attempts / attempts; null when there were none (no data is not 0%). */
  success_rate: number | null;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null };
}

export type HealthState = 'healthy' | 'degraded' | 'failing' | 'disabled' | 'paused';

export interface HealthSummary {
  state: HealthState;
  windows: { '1h': WindowStats; '24h': WindowStats };
  consecutive_failures: number;
  last_success_at: string | null;
}

const HOUR_MS = 60 * 60 * 1000;

/** Thresholds in one place; a rate is only judged on enough attempts to mean something. */
export const HEALTH_THRESHOLDS = {
  minAttemptsForRate: 5,
  failingRateBelow: 0.5,
  degradedRateBelow: 0.95,
  failingConsecutiveFailures: 5,
} as const;

export function summarizeHealth(input: {
  samples: AttemptSample[];
  now: Date;
  consecutiveFailures: number;
  lastSuccessAt: Date | null;
  status: 'active' | 'paused' | 'disabled';
}): HealthSummary {
  const hour = windowStats(input.samples, input.now, HOUR_MS);
  const day = windowStats(input.samples, input.now, 24 * HOUR_MS);
  return {
    state: stateOf(input.status, input.consecutiveFailures, hour),
    windows: { '1h': hour, '24h': day },
    consecutive_failures: input.consecutiveFailures,
    last_success_at: input.lastSuccessAt === null ? null : input.lastSuccessAt.toISOString(),
  };
}

function stateOf(
  status: 'active' | 'paused' | 'disabled',
  consecutiveFailures: number,
  hour: WindowStats,
): HealthState {
  // An operator's decision (or auto-disable) says more than any statistic.
  if (status !== 'active') return status;
  const t = HEALTH_THRESHOLDS;
  const rate = hour.attempts >= t.minAttemptsForRate ? hour.success_rate : null;
  if (consecutiveFailures >= t.failingConsecutiveFailures) return 'failing';
  if (rate !== null && rate < t.failingRateBelow) return 'failing';
  if (consecutiveFailures >= 1) return 'degraded';
  if (rate !== null && rate < t.degradedRateBelow) return 'degraded';
  return 'healthy';
}

/**
 * Stats over the attempts of the last `windowMs` (`now - windowMs` excluded). Samples stamped a
 * little after `now` are kept: they are real attempts, seen through another process's clock.
 * Latency covers failed attempts too, since a timeout is the slowest answer of all.
 */
function windowStats(samples: AttemptSample[], now: Date, windowMs: number): WindowStats {
  const since = now.getTime() - windowMs;
  const inWindow = samples.filter((sample) => sample.at.getTime() > since);
  const attempts = inWindow.length;
  const ok = inWindow.filter((sample) => sample.ok).length;
  const durations = inWindow.map((sample) => sample.durationMs).sort((a, b) => a - b);
  return {
    attempts,
    success_rate: attempts === 0 ? null : ok / attempts,
    latency_ms: {
      p50: nearestRank(durations, 50),
      p95: nearestRank(durations, 95),
      p99: nearestRank(durations, 99),
    },
  };
}

/** Nearest-rank percentile of an ascending list: the smallest value with p% of values at or below. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}
