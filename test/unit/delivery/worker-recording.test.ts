import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeliveryRequest } from '../../../src/delivery/http-client.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/delivery/schedule.js';
import type { DeliveryWorker, DeliveryWorkerOptions } from '../../../src/delivery/worker.js';
import { SqliteStore } from '../../../src/store/index.js';
import type {
  AttemptResult,
  EndpointRecord,
  EndpointTransition,
  RecordOptions,
} from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { createDueDeliveries, QuickSender, testWorker } from '../../helpers/worker-setup.js';

/**
 * An attempt that ended stays leased to this node until its result is recorded, and a crash sends it
 * again. When recording falls behind sending (a slow or loaded PostgreSQL), those results must not
 * pile up: they hold their slot of the pool until written, so a crash re-sends at most a pool's worth.
 */

/**
 * A store whose result writes wait until the test lets them through (`held`), and whose first
 * `failures` writes fail, as during a store restart.
 */
class ScriptedRecordsStore extends SqliteStore {
  calls = 0;
  private open: () => void = () => {};
  private readonly gate: Promise<void>;

  constructor(
    filename: string,
    private failures: number,
    held: boolean,
  ) {
    super({ filename });
    this.gate = held ? new Promise<void>((resolve) => (this.open = resolve)) : Promise.resolve();
  }

  letThrough(): void {
    this.open();
  }

  override async recordAttempts(
    results: AttemptResult[],
    now: Date,
    options?: RecordOptions,
  ): Promise<EndpointTransition[]> {
    this.calls++;
    await this.gate;
    if (this.failures-- > 0) throw new Error('connection terminated');
    return super.recordAttempts(results, now, options);
  }
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** A store on a file of its own with one endpoint and `due` deliveries to it, and a worker of 5 on it. */
async function setUp(options: {
  due: number;
  failures?: number;
  held?: boolean;
  endpoint?: Partial<EndpointRecord>;
  /** Deliveries of a system event (their exhaustion raises nothing), and what the endpoint answers. */
  system?: boolean;
  status?: number;
  sender?: QuickSender;
  worker?: Partial<DeliveryWorkerOptions>;
}): Promise<{
  store: ScriptedRecordsStore;
  sender: QuickSender;
  worker: DeliveryWorker;
  endpoint: EndpointRecord;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'mailhook-recording-'));
  const store = new ScriptedRecordsStore(
    join(dir, 'mailhook.db'),
    options.failures ?? 0,
    options.held ?? false,
  );
  await store.migrate();
  const now = new Date();
  const endpoint = endpointRecord({ url: 'http://127.0.0.1:9/hook', ...options.endpoint }, now);
  await store.createEndpoint(endpoint);
  await createDueDeliveries(
    store,
    endpoint,
    options.due,
    now,
    'due',
    options.system ? 'system.endpoint.failing' : 'email.delivered',
  );
  const sender = options.sender ?? new QuickSender(options.status);
  // It claims only when woken: a flush that forgot to wake it would stall the tests.
  const worker = testWorker({ store, sender, concurrency: 5, pollMs: 60_000, ...options.worker });
  cleanup = async () => {
    store.letThrough();
    await worker.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { store, sender, worker, endpoint };
}

describe('DeliveryWorker with results not yet recorded', () => {
  it('starts no more attempts than its pool while results wait to be written, and goes on once they are', async () => {
    const { store, sender, worker } = await setUp({ due: 30, held: true, endpoint: { maxConcurrency: 20 } });
    worker.start();
    // The pool's five went out (the loop may claim them over a few turns), and their results are held.
    // Before this bound each ended attempt freed its slot: the 30 went out while the first results
    // were still being written.
    await vi.waitFor(() => expect(sender.sent).toBeGreaterThanOrEqual(5));
    await vi.waitFor(() => expect(store.calls).toBeGreaterThan(0));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await worker.dispatch()).toBe(0);
    expect(sender.sent).toBe(5);

    store.letThrough();
    await vi.waitFor(() => expect(sender.sent).toBe(30), { timeout: 5_000 });
    await worker.idle();
    const left = await store.claimDueDeliveries({
      owner: 'w_check',
      now: new Date(Date.now() + 60_000),
      leaseMs: 60_000,
      limit: 100,
      slots: () => 100,
    });
    expect(left).toHaveLength(0);
  });

  it('writes results again after a failed write, rather than leaving their deliveries to go out twice', async () => {
    const { store, sender, worker } = await setUp({ due: 3, failures: 2 });
    worker.start();
    // Two failed writes, then the pauses of 0.25 and 0.5 s, then the third.
    await vi.waitFor(() => expect(store.calls).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
    await worker.idle();
    const page = await store.listDeliveries({ limit: 10 });
    expect(page.items.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(sender.sent).toBe(3);
  });

  it('records an attempt it could not sign as failed, so the delivery follows the retry policy instead of coming back after every lease', async () => {
    // Its only secret expired: nothing is left to sign with.
    const expired = {
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      expiresAt: new Date(Date.now() - 1000),
    };
    const { store, sender, worker } = await setUp({ due: 1, endpoint: { secrets: [expired] } });
    worker.start();
    await vi.waitFor(() => expect(store.calls).toBe(1));
    await worker.idle();
    const [delivery] = (await store.listDeliveries({ limit: 10 })).items;
    expect(sender.sent).toBe(0);
    expect(delivery?.attempts).toBe(1);
    expect(delivery?.status).toBe('pending');
    expect(delivery?.lastError).toMatch(/^not sent: .*signing secret/);
  });

  // The worker keeps the ids of system deliveries whose results wait to be written (their exhaustion
  // must raise no further system event). Until 2026-12-08 an id stayed for as long as the process
  // ran when its delivery was retried (another node may take the retry) or its results were given up.
  const systemIds = (worker: DeliveryWorker) =>
    (worker as unknown as { systemDeliveries: Set<string> }).systemDeliveries;

  it('forgets a system delivery once its result is written, a retry included', async () => {
    const { store, sender, worker } = await setUp({ due: 2, system: true, status: 500 });
    worker.start();
    await vi.waitFor(() => expect(store.calls).toBeGreaterThan(0));
    await worker.idle();
    expect(sender.sent).toBe(2);
    expect((await store.listDeliveries({ limit: 10 })).items.map((d) => d.status)).toEqual([
      'pending',
      'pending',
    ]);
    expect(systemIds(worker).size).toBe(0);
  });

  it('forgets a system delivery whose results were given up', async () => {
    const { store, worker } = await setUp({ due: 2, system: true, failures: 5 });
    worker.start();
    // Five failed writes, 0.25 + 0.5 + 1 + 2 s apart: the results are given up to the leases.
    await vi.waitFor(() => expect(store.calls).toBe(5), { timeout: 10_000 });
    await worker.idle();
    expect(systemIds(worker).size).toBe(0);
  });

  it("raises no exhaustion for a system event's delivery, and does for any other's", async () => {
    /** The event type each attempt carried, by its webhook-id (the event's id). */
    const types = new Map<string, string>();
    const sender = new (class extends QuickSender {
      override async send(request: DeliveryRequest) {
        types.set(String(request.headers['webhook-id']), (JSON.parse(request.body) as { type: string }).type);
        return super.send(request);
      }
    })(500);
    const raised: EndpointTransition[] = [];
    // One attempt and no retry: a failure exhausts the delivery.
    const { store, worker, endpoint } = await setUp({
      due: 1,
      system: true,
      sender,
      worker: {
        policy: { ...DEFAULT_RETRY_POLICY, scheduleMs: [0] },
        onTransitions: (t) => {
          raised.push(...t);
        },
      },
    });
    await createDueDeliveries(store, endpoint, 1, new Date(), 'email', 'email.delivered');
    worker.start();
    await vi.waitFor(async () => {
      const items = (await store.listDeliveries({ limit: 10 })).items;
      expect(items.map((d) => d.status)).toEqual(['failed', 'failed']);
    });
    await worker.idle();
    const deliveries = (await store.listDeliveries({ limit: 10 })).items;
    const typeOf = (deliveryId: string) =>
      types.get(deliveries.find((d) => d.id === deliveryId)?.eventId ?? '');
    expect(types.size).toBe(2);
    const exhausted = raised.filter((t) => t.kind === 'exhausted');
    expect(exhausted.map((t) => typeOf(t.deliveryId))).toEqual(['email.delivered']);
    expect(systemIds(worker).size).toBe(0);
  });

  it("keeps a system delivery's id while a newer result of it waits, so its exhaustion still raises nothing", async () => {
    const sender = new QuickSender(500);
    const raised: EndpointTransition[] = [];
    // Two attempts, the second due at once. The first failure makes the endpoint failing; handling
    // that transition waits until the second attempt has gone out, so its result is queued while the
    // first batch is still being handled.
    const { store, worker } = await setUp({
      due: 1,
      system: true,
      sender,
      worker: {
        failingAfter: 1,
        policy: { ...DEFAULT_RETRY_POLICY, scheduleMs: [0, 0], jitter: 0 },
        onTransitions: async (t) => {
          raised.push(...t);
          await vi.waitFor(() => expect(sender.sent).toBe(2), { timeout: 5_000 });
        },
      },
    });
    worker.start();
    await vi.waitFor(async () => {
      const [delivery] = (await store.listDeliveries({ limit: 10 })).items;
      expect(delivery?.status).toBe('failed');
    });
    await worker.idle();
    expect(sender.sent).toBe(2);
    expect(raised.map((t) => t.kind)).toContain('failing');
    expect(raised.filter((t) => t.kind === 'exhausted')).toEqual([]);
    expect(systemIds(worker).size).toBe(0);
  });
});
