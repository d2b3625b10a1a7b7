import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { pipelineEffects } from '../../src/pipeline/effects.js';
import { processRows } from '../../src/pipeline/process-row.js';
import type { InboxInsert, InboxRow, InlineProcessing, RowOutcome, Store } from '../../src/store/store.js';
import { endpointRecord } from '../helpers/endpoint-record.js';
import { postmarkDeliveryRow } from '../helpers/postmark-row.js';
import type { MakeStore } from './store-contract.js';

/**
 * Processing in the ingest commit: when no older row is pending, a group's rows become processed
 * inbox rows, events and deliveries in the one transaction that stores them.
 */

const sourceId = newId('source');

function postmarkRow(messageId: string, recipient?: string): InboxInsert {
  return postmarkDeliveryRow(sourceId, messageId, recipient);
}

function inline(plan: (rows: InboxRow[]) => RowOutcome[] = processRows): InlineProcessing {
  return { plan, effects: pipelineEffects(), now: new Date() };
}

export function runInlineContract(name: string, makeStore: MakeStore): void {
  describe(`${name}: processing in the ingest commit`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
      await store.createEndpoint(endpointRecord());
    });
    afterEach(async () => cleanup());

    it('stores caught-up rows processed, with their events and deliveries, in the same commit', async () => {
      const rows = [postmarkRow('m-1'), postmarkRow('m-2'), postmarkRow('m-1')];
      const result = await store.appendInbox(rows, inline());
      expect(result.pending).toBe(0);
      expect(result.processed).toMatchObject({
        rows: 3,
        processed: 3,
        inserted: 2,
        duplicates: 1,
        deliveries: 2,
      });
      expect(await store.countInbox()).toEqual({ pending: 0, processed: 3, quarantined: 0 });
      const first = await store.getInboxRow(rows[0]?.id ?? '');
      expect(first).toMatchObject({ status: 'processed', attempts: 1, eventCount: 1, duplicateCount: 0 });
      expect((await store.getInboxRow(rows[2]?.id ?? ''))?.duplicateCount).toBe(1);
      expect(first?.body.equals(rows[0]?.body ?? Buffer.alloc(0))).toBe(true);
      const events = await store.listEvents({ limit: 10 });
      expect(events.items.map((e) => e.data.message_id).sort()).toEqual(['m-1', 'm-2']);
      // The pipeline finds nothing left to do.
      expect((await store.processInbox(100, processRows)).rows).toBe(0);
    });

    it('leaves the group pending, in order behind older rows, when the pipeline is not caught up', async () => {
      const older = postmarkRow('m-old');
      expect(await store.appendInbox([older])).toMatchObject({ processed: null, pending: 1 });
      const group = [postmarkRow('m-new')];
      expect(await store.appendInbox(group, inline())).toMatchObject({ processed: null, pending: 1 });
      expect(await store.countInbox()).toEqual({ pending: 2, processed: 0, quarantined: 0 });
      expect((await store.listEvents({ limit: 10 })).items).toEqual([]);
    });

    it('stores a row the plan cannot process pending, for the pipeline to quarantine, and the rest processed', async () => {
      const good = postmarkRow('m-good');
      const broken = { ...postmarkRow('m-broken'), body: Buffer.from('{"RecordType": "Delivery",') };
      const result = await store.appendInbox([good, broken], inline());
      expect(result).toMatchObject({ pending: 1, processed: { rows: 1, inserted: 1 } });
      expect((await store.getInboxRow(broken.id))?.status).toBe('pending');
      const later = await store.processInbox(10, processRows);
      expect(later).toMatchObject({ rows: 1, quarantined: 1 });
      expect((await store.getInboxRow(broken.id))?.status).toBe('quarantined');
    });

    it('commits nothing at all when the inline transaction fails', async () => {
      const rows = [postmarkRow('m-1')];
      const failing = inline(() => {
        throw new Error('plan exploded');
      });
      await expect(store.appendInbox(rows, failing)).rejects.toThrow('plan exploded');
      expect(await store.countInbox()).toEqual({ pending: 0, processed: 0, quarantined: 0 });
    });

    it('does not store a row whose one-time token is bound to another body, and processes the others', async () => {
      const token = (bodyHash: string) => ({
        token: 't-1',
        bodyHash,
        expiresAt: new Date(Date.now() + 60_000),
      });
      const first = { ...postmarkRow('m-1'), oneTimeToken: token('a') };
      const replay = { ...postmarkRow('m-2', 'victim@example.com'), oneTimeToken: token('b') };
      const result = await store.appendInbox([first, replay], inline());
      expect(result).toMatchObject({
        replayed: [replay.id],
        pending: 0,
        processed: { rows: 1, inserted: 1 },
      });
      expect(await store.getInboxRow(replay.id)).toBeNull();
    });
  });
}
