import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeliveryRequest, DeliveryResponse } from '../../../src/delivery/http-client.js';
import type { DeliveryWorker, Sender } from '../../../src/delivery/worker.js';
import { newId } from '../../../src/ids.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { ClaimedDelivery, EndpointRecord } from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { createDueDeliveries, testWorker } from '../../helpers/worker-setup.js';

/**
 * Deliveries handed to the worker at their creation (src/store/hand-off.ts) start at once while it
 * runs. A hand-off held for its commit's sync can arrive after the worker stopped: then nothing
 * starts (its result could no longer be recorded); the rows keep their lease for a restart.
 */

class RecordingSender implements Sender {
  readonly sent: DeliveryRequest[] = [];
  async send(request: DeliveryRequest): Promise<DeliveryResponse> {
    this.sent.push(request);
    return { kind: 'response', status: 200, headers: {}, bodySnippet: 'ok', durationMs: 1 };
  }
}

function handed(endpoint: EndpointRecord, now: Date): ClaimedDelivery {
  return {
    delivery: {
      id: newId('delivery'),
      eventId: newId('event'),
      endpointId: endpoint.id,
      origin: 'event',
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      lastStatus: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    },
    endpoint,
    payload: JSON.stringify({ id: 'evt_handed', type: 'email.delivered', data: {} }),
    leaseOwner: 'w_test',
  };
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** A migrated store on a file of its own, removed after the test. */
async function migratedStore(): Promise<SqliteStore> {
  const dir = await mkdtemp(join(tmpdir(), 'mailhook-hand-off-'));
  const store = new SqliteStore({ filename: join(dir, 'mailhook.db') });
  cleanup = async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  await store.migrate();
  return store;
}

/** A worker that polls once a minute: it claims only when woken or told to dispatch. */
function idleWorker(store: SqliteStore, sender: Sender): DeliveryWorker {
  return testWorker({ store, sender, concurrency: 20, pollMs: 60_000 });
}

describe('DeliveryWorker.accept', () => {
  it('starts a handed delivery while running, and none once stopped', async () => {
    const store = await migratedStore();
    const now = new Date();
    const endpoint = endpointRecord({ url: 'http://127.0.0.1:9/hook' }, now);
    await store.createEndpoint(endpoint);
    const sender = new RecordingSender();
    const worker = idleWorker(store, sender);
    worker.start();
    expect(worker.reserve(endpoint, now.getTime())).not.toBeNull();
    worker.accept([handed(endpoint, now)]);
    await worker.idle();
    expect(sender.sent).toHaveLength(1);

    expect(worker.reserve(endpoint, now.getTime())).not.toBeNull();
    await worker.stop();
    worker.accept([handed(endpoint, now)]);
    await worker.idle();
    expect(sender.sent).toHaveLength(1);
    expect(worker.busy()).toBe(false);
  });

  it('counts deliveries reserved by a transaction still running when it claims (PostgreSQL commits asynchronously)', async () => {
    const store = await migratedStore();
    const now = new Date();
    const endpoint = endpointRecord({ url: 'http://127.0.0.1:9/hook', maxConcurrency: 3 }, now);
    await store.createEndpoint(endpoint);
    const worker = idleWorker(store, new RecordingSender());
    worker.start();
    await worker.idle();
    // A transaction reserves two of the endpoint's three slots, then, before it commits, five
    // deliveries to that endpoint are due in the store.
    expect(worker.reserve(endpoint, now.getTime())).not.toBeNull();
    expect(worker.reserve(endpoint, now.getTime())).not.toBeNull();
    await createDueDeliveries(store, endpoint, 5, now);
    expect(await worker.dispatch()).toBe(1);
    await worker.stop();
  });
});

describe('DeliveryWorker.release', () => {
  it('runs the claim that the released reservations held back at once, not at the next poll', async () => {
    const store = await migratedStore();
    const now = new Date();
    const endpoint = endpointRecord({ url: 'http://127.0.0.1:9/hook' }, now);
    await store.createEndpoint(endpoint);
    const sender = new RecordingSender();
    // A pool of one, taken by a transaction's reservation; the loop sleeps a minute between polls.
    const worker = testWorker({ store, sender, concurrency: 1, pollMs: 60_000 });
    const dispatch = vi.spyOn(worker, 'dispatch');
    worker.start();
    await vi.waitFor(() => expect(dispatch).toHaveBeenCalledTimes(1));
    expect(worker.reserve(endpoint, now.getTime())).not.toBeNull();
    await createDueDeliveries(store, endpoint, 1, now);
    worker.wake();
    await vi.waitFor(() => expect(dispatch).toHaveBeenCalledTimes(2));
    expect(await dispatch.mock.results[1]?.value).toBe(0);

    // The transaction rolled back: its slot is free, and the due delivery goes out.
    worker.release([handed(endpoint, now)]);
    await vi.waitFor(() => expect(sender.sent).toHaveLength(1), { timeout: 2_000 });
    await worker.stop();
  });
});
