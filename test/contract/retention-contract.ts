import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/events.js';
import { newId } from '../../src/ids.js';
import type { RetentionCutoffs } from '../../src/store/retention.js';
import type {
  InboxInsert,
  InboxRow,
  NewDelivery,
  NewEvent,
  RowOutcome,
  Store,
} from '../../src/store/store.js';
import { endpointRecord } from '../helpers/endpoint-record.js';
import type { MakeStore } from './store-contract.js';

/**
 * The retention half of the Store contract: `pruneBatch` deletes what has expired and nothing else —
 * never an event with a pending delivery, never a pending inbox row, never a pending delivery, a
 * quarantined row only after the events' retention — at most `limit` rows at a time.
 * Ids sort by creation time, so inbox rows, deliveries and attempts expire by when they were made
 * (here: the wall clock); events by their timestamp.
 */

const T0 = Date.parse('2026-09-01T12:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;
const SOURCE = 'src_01JDRETENTIONCONTRACT0000';
const LONG_AGO = new Date(T0 - 365 * DAY);
/** Past everything the test made: all of it is old enough. */
const later = () => new Date(Date.now() + 60_000);

function event(offsetDays: number): NewEvent {
  const id = newId('event');
  const timestamp = new Date(T0 + offsetDays * DAY).toISOString();
  const data = {
    provider: 'sendgrid',
    source_id: SOURCE,
    provider_event_id: id,
    message_id: `msg-${id}`,
    recipient: 'ada@example.com',
    user_agent: null,
    ip: null,
    tags: [],
    metadata: {},
    received_at: timestamp,
    raw: null,
  } as CanonicalEvent['data'];
  return { dedupKey: id, event: { id, type: 'email.delivered', timestamp, data } };
}

function inboxInsert(): InboxInsert {
  return {
    id: newId('inbox'),
    sourceId: SOURCE,
    provider: 'sendgrid',
    receivedAt: new Date(),
    method: 'POST',
    path: `/ingest/${SOURCE}`,
    query: '',
    headers: {},
    body: Buffer.from('[]'),
  };
}

/** One inbox row per event, processed by the pipeline's path; a row given no event is quarantined. */
async function ingest(store: Store, events: Array<NewEvent | 'quarantine'>): Promise<string[]> {
  const rows = events.map(() => inboxInsert());
  const byRow = new Map(rows.map((row, i) => [row.id, events[i]]));
  await store.appendInbox(rows);
  const plan = (claimed: InboxRow[]): RowOutcome[] =>
    claimed.map((row) => {
      const item = byRow.get(row.id);
      return item === 'quarantine' || item === undefined
        ? { inboxId: row.id, kind: 'quarantined', error: 'unparseable', notes: [] }
        : { inboxId: row.id, kind: 'processed', events: [item], notes: [] };
    });
  await store.processInbox(rows.length, plan);
  return rows.map((row) => row.id);
}

function cutoffs(overrides: Partial<RetentionCutoffs>): RetentionCutoffs {
  return { events: null, inbox: null, attempts: null, ...overrides };
}

async function pruneAll(store: Store, table: Parameters<Store['pruneBatch']>[0], c: RetentionCutoffs) {
  let total = 0;
  for (;;) {
    const n = await store.pruneBatch(table, c, 2);
    expect(n).toBeLessThanOrEqual(2);
    total += n;
    if (n < 2) return total;
  }
}

export function runRetentionContract(name: string, makeStore: MakeStore): void {
  describe(`${name} retention`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    it('deletes events older than the cutoff by their timestamp, keeping those with a pending delivery', async () => {
      const endpoint = endpointRecord();
      await store.createEndpoint(endpoint);
      const [old1, old2, old3, waiting, recent, newest] = [
        event(0),
        event(1),
        event(2),
        event(3),
        event(30),
        event(4),
      ];
      await ingest(
        store,
        [old1, old2, old3, waiting, recent, newest].map((e) => e as NewEvent),
      );
      const delivery: NewDelivery = {
        id: newId('delivery'),
        eventId: waiting.event.id,
        endpointId: endpoint.id,
        origin: 'event',
        dedupe: '',
        nextAttemptAt: new Date(),
      };
      await store.createDeliveries([delivery], new Date());

      expect(await pruneAll(store, 'events', cutoffs({ events: LONG_AGO }))).toBe(0);
      const deleted = await pruneAll(store, 'events', cutoffs({ events: new Date(T0 + 10 * DAY) }));
      const gone = async (e: NewEvent) => (await store.getEvent(e.event.id)) === null;
      expect(await gone(old1)).toBe(true);
      expect(await gone(old2)).toBe(true);
      expect(await gone(old3)).toBe(true);
      expect(await gone(waiting), 'an event with a pending delivery').toBe(false);
      expect(await gone(recent)).toBe(false);
      // SQLite's live feed reads after the newest rowid: that row stays until a newer event is stored.
      const newestKept = store.dialect === 'sqlite';
      expect(await gone(newest)).toBe(!newestKept);
      expect(deleted).toBe(newestKept ? 3 : 4);
      expect(await store.countEvents()).toBe(newestKept ? 3 : 2);
      expect((await store.oldestKept()).events?.getTime()).toBe(T0 + 3 * DAY);
      await store.reclaim(['events']);
      expect(await store.countEvents()).toBe(newestKept ? 3 : 2);
    });

    it('deletes processed raw requests, keeps quarantined ones for the events retention and pending ones always', async () => {
      const [processed1, processed2, quarantined] = await ingest(store, [event(0), event(1), 'quarantine']);
      const pending = inboxInsert();
      await store.appendInbox([pending]);
      const exists = async (id: string | undefined) => (await store.getInboxRow(id ?? '')) !== null;

      expect(await pruneAll(store, 'inbox', cutoffs({ inbox: new Date(Date.now() - DAY) }))).toBe(0);
      expect(await pruneAll(store, 'inbox', cutoffs({ inbox: later() }))).toBe(2);
      expect(await exists(processed1)).toBe(false);
      expect(await exists(processed2)).toBe(false);
      expect(await exists(quarantined), 'quarantined, events kept forever').toBe(true);
      expect(await exists(pending.id)).toBe(true);

      expect(await pruneAll(store, 'inbox', cutoffs({ inbox: later(), events: later() }))).toBe(1);
      expect(await exists(quarantined)).toBe(false);
      expect(await exists(pending.id), 'pending, whatever its age').toBe(true);
      expect((await store.countInbox()).pending).toBe(1);
    });

    it('deletes attempts and finished deliveries, never a pending delivery', async () => {
      const endpoint = endpointRecord();
      await store.createEndpoint(endpoint);
      const [done, waiting] = [event(0), event(0)];
      await ingest(store, [done, waiting]);
      const deliveryOf = (e: NewEvent): NewDelivery => ({
        id: newId('delivery'),
        eventId: e.event.id,
        endpointId: endpoint.id,
        origin: 'event',
        dedupe: '',
        nextAttemptAt: new Date(Date.now() - 1000),
      });
      const [finished, pending] = [deliveryOf(done), deliveryOf(waiting)];
      await store.createDeliveries([finished], new Date());
      const claimed = await store.claimDueDeliveries({
        owner: 'node-a',
        now: new Date(),
        leaseMs: 60_000,
        limit: 10,
        slots: () => 10,
      });
      expect(claimed.map((c) => c.delivery.id)).toEqual([finished.id]);
      await store.recordAttempts(
        [
          {
            attempt: {
              id: newId('attempt'),
              deliveryId: finished.id,
              endpointId: endpoint.id,
              attempt: 1,
              startedAt: new Date(),
              durationMs: 12,
              ok: true,
              httpStatus: 200,
              errorClass: null,
              error: null,
              responseSnippet: 'ok',
            },
            leaseOwner: 'node-a',
            status: 'succeeded',
            nextAttemptAt: null,
            disableEndpoint: null,
          },
        ],
        new Date(),
      );
      await store.createDeliveries([pending], new Date());

      expect(await pruneAll(store, 'attempts', cutoffs({ attempts: new Date(Date.now() - DAY) }))).toBe(0);
      expect(await pruneAll(store, 'attempts', cutoffs({ attempts: later() }))).toBe(1);
      expect(await store.listAttempts(finished.id)).toEqual([]);
      expect(await pruneAll(store, 'deliveries', cutoffs({ attempts: later() }))).toBe(1);
      expect(await store.getDelivery(finished.id)).toBeNull();
      expect((await store.getDelivery(pending.id))?.status).toBe('pending');
      const oldest = await store.oldestKept();
      expect(oldest.attempts).toBeNull();
      expect(oldest.deliveries?.getTime()).toBeLessThanOrEqual(Date.now());
    });

    it('deletes nothing for a table whose retention is forever', async () => {
      await ingest(store, [event(0)]);
      for (const table of ['events', 'inbox', 'deliveries', 'attempts'] as const)
        expect(await store.pruneBatch(table, cutoffs({}), 100)).toBe(0);
      expect(await store.countEvents()).toBe(1);
    });
  });
}
