import type { Config } from '../config.js';
import { MailhookError } from '../errors.js';
import type { SourceCache } from '../ingest/source-cache.js';
import type { EndpointRecord, EventEffects, Store } from '../store/store.js';

/** What the /v1 routes need from the rest of the application. */
export interface ApiContext {
  store: Store;
  /** Fan-out and suppression rules, applied to published events as to provider events. */
  effects: EventEffects;
  config: Pick<Config, 'allowPrivateTargets' | 'retention'>;
  /** Base URL providers reach mailhook at (ingest URLs are built from it). */
  publicUrl: () => string;
  sources: SourceCache;
  now: () => Date;
  /** Tells the pipeline there is work (after a reprocess request). */
  wakePipeline: () => void;
  /** Tells the delivery worker there is work (retry, replay, test send, resume). */
  wakeDelivery: () => void;
  /** Tells the reconciliation runner a job was created. */
  wakeReconcile?: () => void;
}

/** The endpoint, or the API's 404 for it. */
export async function endpointOrNotFound(store: Store, id: string): Promise<EndpointRecord> {
  const endpoint = await store.getEndpoint(id);
  if (!endpoint) throw new MailhookError('MH_ERR_ENDPOINT_NOT_FOUND');
  return endpoint;
}
