import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { ReconcileJob } from '../../src/store/reconcile-types.js';
import type { Store } from '../../src/store/store.js';
import type { MakeStore } from './store-contract.js';

/**
 * The reconciliation half of the Store contract: one running job per source, leases that fence a
 * node that lost its job, progress saved page by page for a resume, and the installation heartbeat.
 */

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);
const SOURCE = 'src_01JDRECONCILECONTRACT0000';
const OTHER = 'src_01JDRECONCILEOTHER0000000';
const LEASE = 60_000;

function job(sourceId = SOURCE, createdMs = 0): ReconcileJob {
  return {
    id: newId('reconciliation'),
    sourceId,
    trigger: 'api',
    status: 'running',
    since: at(-3_600_000),
    until: at(0),
    cursor: null,
    pages: 0,
    found: 0,
    new: 0,
    duplicates: 0,
    skipped: 0,
    error: null,
    createdAt: at(createdMs),
    updatedAt: at(createdMs),
    finishedAt: null,
  };
}

export function runReconcileContract(name: string, makeStore: MakeStore): void {
  describe(`${name} reconciliation jobs`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.migrate();
    });

    afterEach(async () => {
      await cleanup();
    });

    it('runs one job per source at a time: a second one answers with the running job', async () => {
      const first = job();
      expect(await store.createReconciliation(first)).toEqual({ created: true, job: first });
      const second = await store.createReconciliation(job());
      expect(second.created).toBe(false);
      if (!second.created) expect(second.running.id).toBe(first.id);
      expect((await store.createReconciliation(job(OTHER))).created, 'another source').toBe(true);
      expect(await store.getReconciliation(first.id)).toMatchObject({
        status: 'running',
        since: first.since,
      });
    });

    it('leases a job to one node, gives it to another once the lease expired, and fences the first', async () => {
      const created = job();
      await store.createReconciliation(created);
      const claimed = await store.claimReconciliation('node-a', at(1000), LEASE);
      expect(claimed?.id).toBe(created.id);
      expect(await store.claimReconciliation('node-b', at(2000), LEASE), 'leased').toBeNull();

      const progress = { cursor: 'page-2', pages: 1, found: 300, new: 12, duplicates: 288, skipped: 1 };
      expect(await store.saveReconciliation(created.id, 'node-a', progress, at(3000), LEASE)).toBe(true);
      const taken = await store.claimReconciliation('node-b', at(3000 + LEASE + 1), LEASE);
      expect(taken, 'the resumed job carries its progress').toMatchObject({ id: created.id, ...progress });
      expect(await store.saveReconciliation(created.id, 'node-a', progress, at(LEASE * 2), LEASE)).toBe(
        false,
      );
      expect(
        await store.finishReconciliation(
          created.id,
          'node-a',
          { status: 'done', error: null },
          at(LEASE * 2),
        ),
      ).toBe(false);
      expect(
        await store.finishReconciliation(
          created.id,
          'node-b',
          { status: 'failed', error: 'refused (401)' },
          at(LEASE * 2),
        ),
      ).toBe(true);
      expect(await store.getReconciliation(created.id)).toMatchObject({
        status: 'failed',
        error: 'refused (401)',
        finishedAt: at(LEASE * 2),
        found: 300,
      });
      expect((await store.createReconciliation(job())).created, 'the source is free again').toBe(true);
    });

    it('lists a source’s jobs newest first', async () => {
      const older = job(SOURCE, 0);
      await store.createReconciliation(older);
      await store.claimReconciliation('node-a', at(1), LEASE);
      await store.finishReconciliation(older.id, 'node-a', { status: 'done', error: null }, at(2));
      const newer = job(SOURCE, 10);
      await store.createReconciliation(newer);
      expect((await store.listReconciliations(SOURCE, 10)).map((j) => j.id)).toEqual([newer.id, older.id]);
      expect(await store.listReconciliations(OTHER, 10)).toEqual([]);
    });

    it('keeps the heartbeat: when the installation was last seen, never moving backwards', async () => {
      expect(await store.heartbeat(at(0))).toBeNull();
      expect((await store.heartbeat(at(60_000)))?.getTime()).toBe(T0);
      expect((await store.heartbeat(at(30_000)))?.getTime(), 'a node with a slower clock').toBe(T0 + 60_000);
      expect((await store.heartbeat(at(90_000)))?.getTime()).toBe(T0 + 60_000);
    });
  });
}
