import type { Config } from '../config.js';
import type { EventEffects } from '../store/store.js';
import { routeEvent } from './fan-out.js';
import { type SoftBouncePolicy, softBouncesSuppress, suppressionIntents } from './suppression-rules.js';

export const DEFAULT_SOFT_BOUNCE_POLICY: SoftBouncePolicy = { threshold: 3, windowMs: 7 * 86_400_000 };

/** The rules the pipeline's transaction applies to every new event: fan-out and suppressions. */
export function pipelineEffects(policy: SoftBouncePolicy = DEFAULT_SOFT_BOUNCE_POLICY): EventEffects {
  return {
    route: routeEvent,
    suppressions: {
      intents: suppressionIntents,
      softBouncesSuppress: (history, at) => softBouncesSuppress(history, at, policy),
      windowMs: policy.windowMs,
    },
  };
}

/** The soft-bounce rule as configured (`MAILHOOK_SOFT_BOUNCE_LIMIT`, `MAILHOOK_SOFT_BOUNCE_WINDOW`). */
export function softBouncePolicyOf(
  config: Pick<Config, 'softBounceLimit' | 'softBounceWindowMs'>,
): SoftBouncePolicy {
  return { threshold: config.softBounceLimit, windowMs: config.softBounceWindowMs };
}
