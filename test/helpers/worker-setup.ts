import pino from 'pino';
import type { DeliveryRequest, DeliveryResponse } from '../../src/delivery/http-client.js';
import { DEFAULT_RETRY_POLICY } from '../../src/delivery/schedule.js';
import { DeliveryWorker, type DeliveryWorkerOptions, type Sender } from '../../src/delivery/worker.js';
import { newId } from '../../src/ids.js';
import type { EndpointRecord, Store } from '../../src/store/store.js';

/** Deliveries to one endpoint, due now, as the pipeline would have created them. */
export async function createDueDeliveries(
  store: Store,
  endpoint: EndpointRecord,
  count: number,
  now: Date,
  tag = 'due',
  type = 'email.delivered',
): Promise<void> {
  const payload = JSON.stringify({ id: `evt_${tag}`, type, data: {} });
  await store.createDeliveries(
    Array.from({ length: count }, (_, i) => ({
      id: newId('delivery'),
      eventId: newId('event'),
      endpointId: endpoint.id,
      origin: 'test' as const,
      dedupe: `${tag}:${i}`,
      payload,
      nextAttemptAt: now,
    })),
    now,
  );
}

/** A worker with the default retry policy, no auto-disable and a silent log; the rest as given. */
export function testWorker(
  options: Pick<DeliveryWorkerOptions, 'store' | 'sender' | 'concurrency'> & Partial<DeliveryWorkerOptions>,
): DeliveryWorker {
  return new DeliveryWorker({
    logger: pino({ level: 'silent' }),
    policy: DEFAULT_RETRY_POLICY,
    timeoutMs: 5_000,
    disableAfterMs: 0,
    userAgent: 'mailhook/test',
    ...options,
  });
}

/** A sender that answers every request at once with `status` (200 by default); counts them. */
export class QuickSender implements Sender {
  sent = 0;
  constructor(private readonly status = 200) {}
  async send(_request: DeliveryRequest): Promise<DeliveryResponse> {
    this.sent++;
    return { kind: 'response', status: this.status, headers: {}, bodySnippet: 'ok', durationMs: 1 };
  }
}
