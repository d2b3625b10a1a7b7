import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { pipelineEffects } from '../../../src/pipeline/effects.js';
import { processRows } from '../../../src/pipeline/process-row.js';
import type { DeliveryHandOff } from '../../../src/store/hand-off.js';
import { pendingRowOf } from '../../../src/store/rows.js';
import type { ClaimedDelivery, EventEffects, InboxInsert, Store } from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { postmarkDeliveryRow } from '../../helpers/postmark-row.js';
import { type MadeStore, testStores } from '../../helpers/test-stores.js';

/**
 * Fresh deliveries handed to this node's delivery worker by the transaction that creates them
 * (src/store/hand-off.ts), on both stores and through each of the three writers that create them:
 * the pipeline's batch, the ingest commit that processes inline, and publishing. A handed delivery
 * is written already leased (no claim takes it while the lease lasts) and reaches the worker only
 * after its transaction committed; a transaction that fails hands nothing and gives back what it
 * reserved.
 */

const stores = await testStores();

/** A hand-off that takes everything and records what happens to it. */
class RecordingHandOff implements DeliveryHandOff {
  readonly accepted: ClaimedDelivery[] = [];
  reserved = 0;
  released = 0;
  /** How many deliveries had been reserved when `accept` came (the whole transaction's). */
  reservedAtAccept: number[] = [];
  busy(): boolean {
    return false;
  }
  reserve(_endpoint: unknown, now: number) {
    this.reserved++;
    return { owner: 'w_handed', expiresAt: now + 60_000 };
  }
  accept(items: ClaimedDelivery[]): void {
    this.reservedAtAccept.push(this.reserved);
    this.accepted.push(...items);
    // Read at once, on another of the pool's connections on PostgreSQL: null if not yet committed.
    if (this.store)
      for (const item of items) this.seenAtAccept.push(this.store.getDelivery(item.delivery.id));
  }
  /** Set to check, at `accept`, that the handed rows are committed. */
  store: Store | null = null;
  readonly seenAtAccept: Array<Promise<unknown>> = [];
  release(items: ClaimedDelivery[]): void {
    this.released += items.length;
  }
}

const row = (): InboxInsert => postmarkDeliveryRow('src_handed', `msg-${newId('event')}`);

function claimAll(store: Store, owner = 'w_claim'): Promise<ClaimedDelivery[]> {
  return store.claimDueDeliveries({
    owner,
    now: new Date(Date.now() + 1000),
    leaseMs: 60_000,
    limit: 100,
    slots: () => 100,
  });
}

describe.each(stores)('deliveries handed to the worker at creation on %s', (_name, make) => {
  let made: MadeStore;
  let store: Store;
  let handOff: RecordingHandOff;
  let effects: EventEffects;
  beforeEach(async () => {
    made = await make();
    store = made.store;
    await store.migrate();
    await store.createEndpoint(
      endpointRecord({ url: 'https://receiver.example.com/hooks', eventTypes: ['email.*'] }),
    );
    handOff = new RecordingHandOff();
    handOff.store = store;
    effects = pipelineEffects();
    effects.handOff = handOff;
  });
  afterEach(async () => made.cleanup());

  async function expectHandedAndLeased(count: number): Promise<void> {
    expect(handOff.accepted).toHaveLength(count);
    // Handed over only once committed: the rows could be read when the worker got them.
    expect((await Promise.all(handOff.seenAtAccept)).every((row) => row !== null)).toBe(true);
    expect(handOff.seenAtAccept).toHaveLength(count);
    expect(handOff.reservedAtAccept.at(-1)).toBe(handOff.reserved);
    expect(new Set(handOff.accepted.map((item) => item.leaseOwner))).toEqual(new Set(['w_handed']));
    // Leased at creation: a claim finds nothing until the lease is released (as at a restart).
    expect(await claimAll(store)).toEqual([]);
    expect(await store.releaseAllLeases()).toBe(count);
    const claimed = await claimAll(store);
    expect(claimed.map((item) => item.delivery.id).sort()).toEqual(
      handOff.accepted.map((item) => item.delivery.id).sort(),
    );
    expect(claimed.map((item) => item.payload).sort()).toEqual(
      handOff.accepted.map((item) => item.payload).sort(),
    );
  }

  it('by the pipeline: leased in the batch, handed over after its commit', async () => {
    await store.appendInbox([row(), row(), row()]);
    const summary = await store.processInbox(10, processRows, effects, new Date());
    expect(summary.deliveries).toBe(3);
    await expectHandedAndLeased(3);
  });

  it('by the ingest commit that processes its rows inline', async () => {
    const result = await store.appendInbox([row(), row()], { plan: processRows, effects, now: new Date() });
    expect(result.processed?.deliveries).toBe(2);
    // SQLite holds an ingest commit's hand-off until its WAL sync (DeferredHandOff): wait for it.
    await expect.poll(() => handOff.accepted.length).toBe(2);
    await expectHandedAndLeased(2);
  });

  it('by publishing', async () => {
    const [outcome] = processRows([pendingRowOf(row())]);
    if (outcome?.kind !== 'processed') throw new Error('the Postmark row did not parse');
    const published = await store.publishEvents(
      outcome.events.map(({ event, dedupKey }) => ({ event, dedupKey })),
      effects,
      new Date(),
    );
    expect(published).toHaveLength(1);
    await expectHandedAndLeased(1);
  });

  it('hands nothing over from a transaction that fails, and gives back what it reserved', async () => {
    await store.appendInbox([row(), row()]);
    const failing: EventEffects = {
      ...effects,
      // Runs inside the transaction after fan-out reserved the deliveries of the first event.
      route: (event, endpoints) => {
        if (handOff.reserved >= 1) throw new Error('routing failed');
        return effects.route?.(event, endpoints) ?? [];
      },
    };
    await expect(store.processInbox(10, processRows, failing, new Date())).rejects.toThrow('routing failed');
    expect(handOff.accepted).toEqual([]);
    expect(handOff.released).toBe(handOff.reserved);
    expect(await claimAll(store)).toEqual([]);
    expect(await store.countInbox()).toMatchObject({ pending: 2 });
  });
});
