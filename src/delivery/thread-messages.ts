import type { Config } from '../config.js';
import type { AttemptMetric } from '../monitoring/metrics.js';

export interface DeliveryThreadData {
  config: Pick<
    Config,
    | 'databaseUrl'
    | 'dataDir'
    | 'logLevel'
    | 'retryScheduleMs'
    | 'deliveryTimeoutMs'
    | 'disableAfterMs'
    | 'deliveryConcurrency'
    | 'allowPrivateTargets'
    | 'failingAfter'
    | 'softBounceLimit'
    | 'softBounceWindowMs'
  >;
  userAgent: string;
}

export type ToDelivery = { type: 'wake' } | { type: 'stop' };
export type FromDelivery = { type: 'attempts'; attempts: AttemptMetric[] };
