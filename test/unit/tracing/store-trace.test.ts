import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { pipelineEffects } from '../../../src/pipeline/effects.js';
import { processRows } from '../../../src/pipeline/process-row.js';
import type { ClaimedDelivery, EndpointRecord, InboxInsert, Store } from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { postmarkDeliveryRow } from '../../helpers/postmark-row.js';
import { type MadeStore, testStores } from '../../helpers/test-stores.js';

/**
 * The `trace` column (migration 011) on both stores: an inbox row's W3C traceparent is kept with it
 * and copied to the deliveries of its events, by the pipeline and by inline processing; a row
 * without one leaves its deliveries without one.
 */

const TRACED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const OTHER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function endpoint(): EndpointRecord {
  return endpointRecord({
    url: 'https://receiver.example.com/hooks',
    description: '',
    eventTypes: ['email.*'],
  });
}

function row(trace?: string): InboxInsert {
  const inserted = postmarkDeliveryRow('src_traced', `msg-${newId('event')}`);
  return trace ? { ...inserted, trace } : inserted;
}

async function claimAll(store: Store): Promise<ClaimedDelivery[]> {
  return store.claimDueDeliveries({
    owner: 'w_test',
    now: new Date(Date.now() + 1000),
    leaseMs: 60_000,
    limit: 100,
    slots: () => 100,
  });
}

/** The claimed deliveries' traces by the event's Postmark MessageID. */
function tracesByMessage(claimed: ClaimedDelivery[]): Record<string, string | undefined> {
  return Object.fromEntries(
    claimed.map((item) => [
      (JSON.parse(item.payload) as { data: { message_id: string } }).data.message_id,
      item.trace,
    ]),
  );
}

const messageOf = (inserted: InboxInsert) =>
  (JSON.parse(inserted.body.toString()) as { MessageID: string }).MessageID;

const stores = await testStores();

describe.each(stores)('the trace column on %s', (_name, make) => {
  let made: MadeStore;
  let store: Store;
  beforeEach(async () => {
    made = await make();
    store = made.store;
    await store.migrate();
    await store.createEndpoint(endpoint());
  });
  afterEach(async () => made.cleanup());

  it('keeps a row trace, and the pipeline copies it to the deliveries of that row only', async () => {
    const traced = row(TRACED);
    const plain = row();
    await store.appendInbox([traced, plain]);
    expect((await store.getInboxRow(traced.id))?.trace).toBe(TRACED);
    expect((await store.getInboxRow(plain.id))?.trace).toBeUndefined();

    const summary = await store.processInbox(10, processRows, pipelineEffects(), new Date());
    expect(summary.deliveries).toBe(2);
    expect(tracesByMessage(await claimAll(store))).toEqual({
      [messageOf(traced)]: TRACED,
      [messageOf(plain)]: undefined,
    });
  });

  it('copies the traces of rows processed in their own ingest commit (inline)', async () => {
    const first = row(TRACED);
    const second = row(OTHER);
    const result = await store.appendInbox([first, second], {
      plan: processRows,
      effects: pipelineEffects(),
      now: new Date(),
    });
    expect(result.processed?.deliveries).toBe(2);
    expect((await store.getInboxRow(first.id))?.trace).toBe(TRACED);
    expect(tracesByMessage(await claimAll(store))).toEqual({
      [messageOf(first)]: TRACED,
      [messageOf(second)]: OTHER,
    });
  });
});

describe.each(stores)('the trace of deliveries handed to the worker at creation on %s', (_name, make) => {
  it('is on the handed items and on the stored rows', async () => {
    const { store, cleanup } = await make();
    try {
      await store.migrate();
      await store.createEndpoint(endpoint());
      const handed: ClaimedDelivery[] = [];
      const effects = pipelineEffects();
      effects.handOff = {
        busy: () => false,
        reserve: (_endpoint, now) => ({ owner: 'w_handed', expiresAt: now + 60_000 }),
        accept: (items) => handed.push(...items),
        release: () => {},
      };
      const traced = row(TRACED);
      const plain = row();
      await store.appendInbox([traced, plain]);
      await store.processInbox(10, processRows, effects, new Date());
      expect(tracesByMessage(handed)).toEqual({ [messageOf(traced)]: TRACED, [messageOf(plain)]: undefined });
      // The leases are released as after a restart: the stored rows carry the same traces.
      await store.releaseAllLeases();
      expect(tracesByMessage(await claimAll(store))).toEqual(tracesByMessage(handed));
    } finally {
      await cleanup();
    }
  });
});
