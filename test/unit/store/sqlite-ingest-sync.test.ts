import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { pipelineEffects } from '../../../src/pipeline/effects.js';
import { processRows } from '../../../src/pipeline/process-row.js';
import { DurabilityError } from '../../../src/store/durability.js';
import type { DeliveryHandOff } from '../../../src/store/hand-off.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { SyncFile } from '../../../src/store/sqlite/wal-sync.js';
import type { ClaimedDelivery, InboxInsert, InlineProcessing } from '../../../src/store/store.js';
import { endpointRecord } from '../../helpers/endpoint-record.js';
import { postmarkDeliveryRow } from '../../helpers/postmark-row.js';
import { settle, tracked } from '../../helpers/promise-state.js';

/**
 * SQLite's ingest commit while the delivery worker on its thread has attempts in flight: the commit
 * does not sync, the WAL is synced off the thread, and the acknowledgement, the deliveries the
 * commit leased and any claim wait for that sync (src/store/sqlite/wal-sync.ts). With nothing in
 * flight the commit syncs itself, as synchronous=FULL always did.
 */

const FULL = 2;
const NORMAL = 1;

let dir: string;
let store: SqliteStore;
let syncs: Array<{ path: string; resolve: () => void; reject: (err: Error) => void }>;

/**
 * A hand-off that leases every delivery (or none) and records what it was given, and the
 * connection's synchronous setting inside the commit (reserve runs in it).
 */
function handOff(options: { busy: boolean; lease: boolean }) {
  const accepted: ClaimedDelivery[] = [];
  const released: ClaimedDelivery[] = [];
  const inCommit: number[] = [];
  const worker: DeliveryHandOff = {
    busy: () => options.busy,
    reserve: (_endpoint, now) => {
      inCommit.push(synchronousOf(store) as number);
      return options.lease ? { owner: 'w_test', expiresAt: now + 60_000 } : null;
    },
    accept: (items) => accepted.push(...items),
    release: (items) => released.push(...items),
  };
  return { worker, accepted, released, inCommit };
}

function inline(worker: DeliveryHandOff): InlineProcessing {
  const effects = pipelineEffects();
  effects.handOff = worker;
  return { plan: processRows, effects, now: new Date() };
}

/** Claims what is due in the store, as the worker's claim does. */
const claimDue = () =>
  store.claimDueDeliveries({
    owner: 'w_claim',
    now: new Date(Date.now() + 1000),
    leaseMs: 60_000,
    limit: 10,
    slots: () => 10,
  });
const row = (): InboxInsert => postmarkDeliveryRow('src_synced', `msg-${newId('event')}`);
const synchronousOf = (s: SqliteStore) =>
  (s as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailhook-ingest-sync-'));
  syncs = [];
  const syncFile: SyncFile = (path) =>
    new Promise<void>((resolve, reject) => {
      syncs.push({ path, resolve, reject });
    });
  store = new SqliteStore({ filename: join(dir, 'mailhook.db'), syncFile });
  await store.migrate();
  await store.createEndpoint(endpointRecord({ url: 'https://receiver.example.com/hooks' }));
});

afterEach(async () => {
  for (const sync of syncs) sync.resolve();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite ingest commits while deliveries are in flight', () => {
  it('acknowledge and hand over their deliveries only once the WAL is synced', async () => {
    const { worker, accepted, inCommit } = handOff({ busy: true, lease: true });
    const first = row();
    const appended = tracked(store.appendInbox([first], inline(worker)));
    await settle();
    expect(syncs.map((sync) => sync.path)).toEqual([join(dir, 'mailhook.db-wal')]);
    expect(appended.done).toBe(false);
    expect(accepted).toHaveLength(0);
    // Committed (readable) already, without a sync of its own, and the connection back to FULL for
    // every other write.
    expect((await store.getInboxRow(first.id))?.status).toBe('processed');
    expect(inCommit).toEqual([NORMAL]);
    expect(synchronousOf(store)).toBe(FULL);
    syncs[0]?.resolve();
    await settle();
    expect(appended.done).toBe(true);
    expect(appended.value?.processed?.rows).toBe(1);
    expect(accepted).toHaveLength(1);
  });

  it('commit the next group only after the one before it is synced', async () => {
    const { worker } = handOff({ busy: true, lease: true });
    const [a, b] = [row(), row()];
    const first = tracked(store.appendInbox([a], inline(worker)));
    const second = tracked(store.appendInbox([b], inline(worker)));
    await settle();
    expect(await store.getInboxRow(b.id)).toBeNull();
    syncs[0]?.resolve();
    await settle();
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
    expect((await store.getInboxRow(b.id))?.status).toBe('processed');
    syncs[1]?.resolve();
    await settle();
    expect(second.done).toBe(true);
  });

  it('refuse the group whose sync failed and every later one, and start none of its deliveries', async () => {
    const { worker, accepted, released } = handOff({ busy: true, lease: true });
    const appended = tracked(store.appendInbox([row()], inline(worker)));
    await settle();
    syncs[0]?.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await settle();
    expect(appended.error).toBeInstanceOf(DurabilityError);
    expect(accepted).toHaveLength(0);
    expect(released).toHaveLength(1);
    // Nothing more is written, whether or not deliveries are in flight.
    const later = row();
    await expect(store.appendInbox([later])).rejects.toBe(appended.error);
    const idle = handOff({ busy: false, lease: true });
    await expect(store.appendInbox([row()], inline(idle.worker))).rejects.toBe(appended.error);
    expect(await store.getInboxRow(later.id)).toBeNull();
  });

  it('leave nothing for a claim started in the same turn before their sync', async () => {
    const { worker } = handOff({ busy: true, lease: false });
    // Both start before either runs: the claim must not take what the commit stores unsynced.
    const appended = tracked(store.appendInbox([row()], inline(worker)));
    const claim = tracked(claimDue());
    await settle();
    expect(syncs).toHaveLength(1);
    expect(appended.done).toBe(false);
    // It ran before the commit (nothing to take) or waits for the sync: never the unsynced delivery.
    if (claim.done) expect(claim.value).toEqual([]);
    syncs[0]?.resolve();
    await settle();
    expect(appended.done).toBe(true);
    const after = await claimDue();
    expect((claim.value?.length ?? 0) + after.length).toBe(1);
  });

  it('keep a claim of what they left in the store waiting for their sync', async () => {
    // The endpoint is at its limits here: the delivery is stored due, for a claim to take.
    const { worker } = handOff({ busy: true, lease: false });
    const appended = tracked(store.appendInbox([row()], inline(worker)));
    await settle();
    const claim = tracked(claimDue());
    await settle();
    expect(claim.done).toBe(false);
    syncs[0]?.resolve();
    await settle();
    expect(appended.done).toBe(true);
    expect(claim.done).toBe(true);
    expect(claim.value).toHaveLength(1);
  });
});

describe('SQLite ingest commits with nothing in flight', () => {
  it('sync in the commit itself and hand over at once', async () => {
    const { worker, accepted, inCommit } = handOff({ busy: false, lease: true });
    const result = await store.appendInbox([row()], inline(worker));
    expect(result.processed?.rows).toBe(1);
    expect(accepted).toHaveLength(1);
    expect(inCommit).toEqual([FULL]);
    expect(syncs).toHaveLength(0);
  });

  it('without inline processing, also sync in the commit', async () => {
    await store.appendInbox([row()]);
    expect(syncs).toHaveLength(0);
  });
});

describe('the WAL that is synced', () => {
  it('is the one beside the file SQLite opened, through a symbolic link', async () => {
    const disk = join(dir, 'disk');
    const data = join(dir, 'data');
    mkdirSync(disk);
    mkdirSync(data);
    writeFileSync(join(disk, 'mailhook.db'), '');
    symlinkSync(join(disk, 'mailhook.db'), join(data, 'mailhook.db'));
    const paths: string[] = [];
    const linked = new SqliteStore({
      filename: join(data, 'mailhook.db'),
      syncFile: async (path) => {
        paths.push(path);
      },
    });
    try {
      await linked.migrate();
      await linked.createEndpoint(endpointRecord({ url: 'https://receiver.example.com/hooks' }));
      await linked.appendInbox([row()], inline(handOff({ busy: true, lease: true }).worker));
      expect(paths).toEqual([join(realpathSync(disk), 'mailhook.db-wal')]);
      expect(existsSync(paths[0] as string)).toBe(true);
    } finally {
      await linked.close();
    }
  });
});
