import { close, fdatasync, open } from 'node:fs';
import { DurabilityError } from '../durability.js';

/** Flushes a file's data to the disk. */
export type SyncFile = ((path: string) => Promise<void>) & { close?: () => Promise<void> };

/**
 * `fdatasync` of the file at `path` on libuv's thread pool, through a descriptor opened once and
 * kept: SQLite removes and recreates the WAL only when the last connection to the database closes,
 * and the store that syncs keeps its own open (close() below). Linux flushes a file's pages whichever
 * descriptor wrote them. A missing file is an error: in WAL mode the file exists from the first
 * write, so a missing one means the path is not the one SQLite writes.
 */
export function walFileSync(): SyncFile {
  let fd: number | null = null;
  const sync = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const flush = (held: number) => fdatasync(held, (err) => (err ? reject(err) : resolve()));
      if (fd !== null) return flush(fd);
      open(path, 'r', (err, opened) => {
        if (err) return reject(err);
        fd = opened;
        flush(opened);
      });
    });
  return Object.assign(sync, {
    close: () =>
      new Promise<void>((resolve) => {
        const held = fd;
        fd = null;
        if (held === null) resolve();
        else close(held, () => resolve());
      }),
  });
}

interface Waiter {
  commit: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Group `fdatasync` of the WAL, off the writer's thread. An ingest commit runs with
 * synchronous=NORMAL (its frames written to the WAL, no sync) and its acknowledgement waits here for
 * a sync that started after it: what synchronous=FULL does in WAL mode, sync the WAL after the
 * commit, but the thread that commits goes on with deliveries meanwhile, and one sync serves every
 * commit made before it started (issue 16: with the sync inside the commit, the SQLite thread spent
 * a third of its time blocked in it and deliveries fell behind ingest).
 *
 * The commit is visible to readers (the API, the live tail) for the length of its sync before it is
 * on disk: a power cut then takes it back with its unanswered request, which the provider posts
 * again. Deliveries wait for the sync (DeferredHandOff, and claims), so none goes out for it.
 *
 * After a failed sync nothing is synced or acknowledged again, and the server stops (the pipeline
 * thread reports it: PipelineThread.fatal), as PostgreSQL does: the kernel may have dropped the pages
 * it could not write and reports that only once, so a later sync that succeeds proves nothing about
 * them.
 */
export class WalSync {
  private commits = 0;
  private synced = 0;
  /** The sync running now, if any. */
  private flight: Promise<void> | null = null;
  private failure: DurabilityError | null = null;
  private closed = false;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly walPath: string,
    private readonly syncFile: SyncFile = walFileSync(),
  ) {}

  /** Set once a sync failed; every later commit is refused with it. */
  get failed(): DurabilityError | null {
    return this.failure;
  }

  /** True while a commit noted here waits for its sync. */
  get unsynced(): boolean {
    return this.synced < this.commits;
  }

  /** After the syncs in flight: releases what the sync holds open; nothing is synced after. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flight) await this.flight;
    await this.syncFile.close?.();
  }

  /** A commit was made without a sync of its own. */
  noteCommit(): void {
    this.commits++;
  }

  /** Resolves once every commit noted before this call is on disk (at once if none is waiting). */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const commit = this.commits;
    if (this.synced >= commit) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ commit, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.flight || this.waiting.length === 0) return;
    if (this.closed) {
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('the store is closed'));
      return;
    }
    const covers = this.commits;
    this.flight = this.syncFile(this.walPath).then(
      () => this.settle(covers, null),
      (err: unknown) =>
        this.settle(
          covers,
          new DurabilityError(
            `could not sync ${this.walPath} (${(err as Error).message}): committed data may not be on disk; nothing more is acknowledged until mailhook restarts`,
            { cause: err },
          ),
        ),
    );
  }

  private settle(covers: number, failure: DurabilityError | null): void {
    this.flight = null;
    if (failure) {
      this.failure = failure;
      for (const waiter of this.waiting.splice(0)) waiter.reject(failure);
      return;
    }
    this.synced = Math.max(this.synced, covers);
    // Waiters are in commit order: those the sync covered are a prefix.
    let covered = 0;
    while (covered < this.waiting.length && (this.waiting[covered] as Waiter).commit <= covers) covered++;
    for (const waiter of this.waiting.splice(0, covered)) waiter.resolve();
    this.next();
  }
}
