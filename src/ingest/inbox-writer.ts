import type { InboxInsert } from '../store/store.js';

/** Commits rows durably in one transaction (Store.appendInbox, or the pipeline thread that owns writes). */
export type AppendInbox = (rows: InboxInsert[]) => Promise<{ replayed: string[] }>;

/** `replayed`: not stored, because the row's one-time token is bound to another body. */
export type AppendOutcome = 'stored' | 'replayed';

interface Pending {
  row: InboxInsert;
  resolve: (outcome: AppendOutcome) => void;
  reject: (err: unknown) => void;
}

export interface InboxWriterOptions {
  append: AppendInbox;
  /** Most rows in one transaction. */
  maxBatch?: number;
  /**
   * Commits in flight at once. Two lets the next group travel to the writer while one commits, so a
   * request that arrives just after a commit started does not wait for it to finish first.
   */
  maxInFlight?: number;
  /** Called after each successful commit (wakes the pipeline). */
  onCommitted?: (rows: number) => void;
}

/**
 * Group commit for the ingest path: requests that finish arriving in the same turn of the event loop
 * (or while a commit is in flight) share one transaction and one fsync. Each caller's promise settles
 * only after its row is committed, so a 200 always means "on disk"; if the commit fails, every caller
 * in the group is rejected (→ 503) and nothing was acknowledged.
 */
export class InboxWriter {
  private readonly append: AppendInbox;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly onCommitted: ((rows: number) => void) | undefined;
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly flushing = new Set<Promise<void>>();
  /** Commits done and rows written, for metrics and tests. */
  readonly stats = { commits: 0, rows: 0, largestBatch: 0 };

  constructor(options: InboxWriterOptions) {
    this.append = options.append;
    this.maxBatch = options.maxBatch ?? 1000;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    this.onCommitted = options.onCommitted;
  }

  add(row: InboxInsert): Promise<AppendOutcome> {
    return new Promise<AppendOutcome>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything appended so far has been committed (or rejected). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing.size > 0 || this.scheduled) {
      if (this.flushing.size > 0) await Promise.all(this.flushing);
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing.size >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.queue.length === 0) return;
      const flush: Promise<void> = this.flush().finally(() => {
        this.flushing.delete(flush);
        if (this.queue.length > 0) this.schedule();
      });
      this.flushing.add(flush);
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    let result: { replayed: string[] };
    try {
      result = await this.append(batch.map((p) => p.row));
    } catch (err) {
      for (const pending of batch) pending.reject(err);
      return;
    }
    this.stats.commits++;
    this.stats.rows += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    const replayed = new Set(result.replayed);
    for (const pending of batch) pending.resolve(replayed.has(pending.row.id) ? 'replayed' : 'stored');
    this.onCommitted?.(batch.length);
  }
}
