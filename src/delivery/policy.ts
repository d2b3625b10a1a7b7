import type { Config } from '../config.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './schedule.js';

/**
 * The retry policy from configuration. The floors after timeouts and 429s never exceed the longest
 * configured delay, so a short schedule (tests, impatient deployments) is not overruled by them.
 */
export function policyFromConfig(config: Pick<Config, 'retryScheduleMs'>): RetryPolicy {
  const longest = Math.max(0, ...config.retryScheduleMs);
  return {
    ...DEFAULT_RETRY_POLICY,
    scheduleMs: config.retryScheduleMs,
    floorAfterTimeoutMs: Math.min(DEFAULT_RETRY_POLICY.floorAfterTimeoutMs, longest),
    floorAfter429Ms: Math.min(DEFAULT_RETRY_POLICY.floorAfter429Ms, longest),
  };
}
