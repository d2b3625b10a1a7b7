import { afterEach, describe, expect, it } from 'vitest';
import { reserveFor } from '../../../src/delivery/fair-share.js';
import type { DeliveryRequest, DeliveryResponse } from '../../../src/delivery/http-client.js';
import type { Sender } from '../../../src/delivery/worker.js';
import type { EndpointRecord, Store } from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { seededRandom } from '../../helpers/random.js';
import { testStores } from '../../helpers/test-stores.js';
import { createDueDeliveries, testWorker } from '../../helpers/worker-setup.js';

/**
 * The delivery worker against a real store, with a sender that never answers the stuck endpoints:
 * endpoints whose attempts hang (12, or 60 of them) may not take the whole pool, and a healthy
 * endpoint that gets work after them starts at once and drains, on SQLite and on PostgreSQL.
 */

const POOL = 200;

/** Holds every request to a stuck URL until `releaseAll`; answers 200 at once to any other. */
class HangingSender implements Sender {
  readonly held: DeliveryRequest[] = [];
  readonly answered: DeliveryRequest[] = [];
  private readonly release: Array<() => void> = [];
  constructor(private readonly stuck: Set<string>) {}

  async send(request: DeliveryRequest): Promise<DeliveryResponse> {
    if (this.stuck.has(request.url)) {
      this.held.push(request);
      await new Promise<void>((resolve) => this.release.push(resolve));
      return { kind: 'error', errorClass: 'timeout', message: 'no answer', durationMs: request.timeoutMs };
    }
    this.answered.push(request);
    return { kind: 'response', status: 200, headers: {}, bodySnippet: 'ok', durationMs: 1 };
  }

  heldBy(url: string): number {
    return this.held.filter((r) => r.url === url).length;
  }

  releaseAll(): void {
    for (const resolve of this.release.splice(0)) resolve();
  }
}

const stores = await testStores();

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanups.reverse()) await step();
  cleanups = [];
});

async function endpointWith(
  store: Store,
  url: string,
  deliveries: number,
  now: Date,
): Promise<EndpointRecord> {
  const endpoint = endpointRecord({ url, maxConcurrency: 20 }, now);
  await store.createEndpoint(endpoint);
  await createDueDeliveries(store, endpoint, deliveries, now, 'fair');
  return endpoint;
}

describe.each(stores)('DeliveryWorker beside %s', (_name, make) => {
  it.each([12, 60])(
    'keeps part of the pool free while %i endpoints hang, and a healthy endpoint that gets work after them drains at once',
    async (STUCK) => {
      const { store, cleanup } = await make();
      cleanups.push(cleanup);
      await store.migrate();
      const now = new Date();
      const stuckUrls = Array.from({ length: STUCK }, (_, i) => `http://127.0.0.1:9/stuck-${i}`);
      const sender = new HangingSender(new Set(stuckUrls));
      for (const url of stuckUrls) await endpointWith(store, url, 40, now);
      const worker = testWorker({
        store,
        sender,
        timeoutMs: 15_000,
        concurrency: POOL,
        random: seededRandom(11),
      });
      cleanups.push(async () => {
        sender.releaseAll();
        await worker.idle();
      });

      // The stuck endpoints take what they may; before the fix, 10 × 20 = the whole pool.
      while ((await worker.dispatch()) > 0);
      const parts = stuckUrls.map((url) => sender.heldBy(url));
      expect(sender.held.length).toBe(POOL - reserveFor(POOL, STUCK));
      expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);

      // A healthy endpoint gets 100 deliveries: the first claim starts its share of them at once.
      await endpointWith(store, 'http://127.0.0.1:9/healthy', 100, now);
      const first = await worker.dispatch();
      expect(first).toBe(sender.answered.length);
      expect(first).toBeGreaterThanOrEqual(Math.floor((POOL - reserveFor(POOL, STUCK + 1)) / (STUCK + 1)));
      const deadline = Date.now() + 5000;
      while (sender.answered.length < 100 && Date.now() < deadline) {
        await worker.dispatch();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(sender.answered).toHaveLength(100);
      // The stuck endpoints got nothing more meanwhile.
      expect(sender.held.length).toBe(POOL - reserveFor(POOL, STUCK));
    },
  );
});
