import type { Config } from '../config.js';

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
  >;
  userAgent: string;
}

export type ToDelivery = { type: 'wake' } | { type: 'stop' };
export type FromDelivery = { type: 'started' } | { type: 'stopped' };
