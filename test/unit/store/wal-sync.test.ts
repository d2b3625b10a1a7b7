import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurabilityError } from '../../../src/store/durability.js';
import { type SyncFile, WalSync, walFileSync } from '../../../src/store/sqlite/wal-sync.js';
import { settle, tracked } from '../../helpers/promise-state.js';

/**
 * The WAL's group sync (src/store/sqlite/wal-sync.ts): an acknowledgement waits for a sync that
 * started after its commit; one sync serves every commit made before it started; after a failure
 * nothing is acknowledged again.
 */

/** A WalSync over a SyncFile the test completes by hand. */
function walWithManualSync() {
  const calls: Array<{ path: string; resolve: () => void; reject: (err: Error) => void }> = [];
  let closed = 0;
  const sync = Object.assign(
    (path: string) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ path, resolve, reject });
      }),
    {
      close: async () => {
        closed++;
      },
    },
  ) as SyncFile;
  return { wal: new WalSync('/data/mailhook.db-wal', sync), calls, closedCount: () => closed };
}

describe('WalSync', () => {
  it('resolves at once, without a sync, when no commit is waiting', async () => {
    const { wal, calls } = walWithManualSync();
    await wal.durable();
    expect(calls).toHaveLength(0);
  });

  it('serves every commit noted before the sync started with one sync', async () => {
    const { wal, calls } = walWithManualSync();
    wal.noteCommit();
    const first = tracked(wal.durable());
    wal.noteCommit();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.path).toBe('/data/mailhook.db-wal');
    // The second commit was made after the first sync started: it needs another one.
    const second = tracked(wal.durable());
    calls[0]?.resolve();
    await settle();
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
    expect(calls).toHaveLength(2);
    calls[1]?.resolve();
    await settle();
    expect(second.done).toBe(true);
    // Both commits are on disk now: nothing to wait for.
    await wal.durable();
    expect(calls).toHaveLength(2);
  });

  it('shares the next sync among all the commits that arrived during one', async () => {
    const { wal, calls } = walWithManualSync();
    wal.noteCommit();
    const first = tracked(wal.durable());
    const later = [1, 2, 3].map(() => {
      wal.noteCommit();
      return tracked(wal.durable());
    });
    calls[0]?.resolve();
    await settle();
    expect(first.done).toBe(true);
    expect(later.map((waiter) => waiter.done)).toEqual([false, false, false]);
    expect(calls).toHaveLength(2);
    calls[1]?.resolve();
    await settle();
    expect(later.map((waiter) => waiter.done)).toEqual([true, true, true]);
    expect(calls).toHaveLength(2);
  });

  it('refuses the waiting commits and every later one once a sync failed', async () => {
    const { wal, calls } = walWithManualSync();
    wal.noteCommit();
    const first = tracked(wal.durable());
    wal.noteCommit();
    const second = tracked(wal.durable());
    const cause = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    calls[0]?.reject(cause);
    await settle();
    expect(first.error).toBeInstanceOf(DurabilityError);
    expect(second.error).toBe(first.error);
    expect((first.error as Error).message).toMatch(/could not sync \/data\/mailhook\.db-wal \(EIO/);
    expect((first.error as Error).cause).toBe(cause);
    expect(wal.failed).toBe(first.error);
    // A later sync that succeeds would prove nothing about the pages the kernel failed to write.
    wal.noteCommit();
    await expect(wal.durable()).rejects.toBe(first.error);
    expect(calls).toHaveLength(1);
  });

  it('closes the file only after the sync in flight', async () => {
    const { wal, calls, closedCount } = walWithManualSync();
    wal.noteCommit();
    const waiter = tracked(wal.durable());
    const closing = tracked(wal.close());
    await settle();
    expect(closing.done).toBe(false);
    expect(closedCount()).toBe(0);
    calls[0]?.resolve();
    await settle();
    expect(waiter.done).toBe(true);
    expect(closing.done).toBe(true);
    expect(closedCount()).toBe(1);
  });
});

describe('walFileSync', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('syncs a file through one descriptor it keeps until closed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailhook-walsync-'));
    const file = join(dir, 'mailhook.db-wal');
    writeFileSync(file, 'frames');
    const sync = walFileSync();
    await sync(file);
    // Removed after it was opened: the kept descriptor still syncs the same file.
    rmSync(file);
    await sync(file);
    await sync.close?.();
  });

  it('fails on a file that is not there: in WAL mode it always is, so the path is wrong', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailhook-walsync-'));
    const sync = walFileSync();
    await expect(sync(join(dir, 'absent.db-wal'))).rejects.toMatchObject({ code: 'ENOENT' });
    await sync.close?.();
  });
});
