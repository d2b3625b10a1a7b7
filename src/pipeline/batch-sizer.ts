/**
 * Chooses how many inbox rows the next pipeline transaction takes. With SQLite one transaction at a
 * time holds the write lock, and ingest commits wait behind it, so while providers are posting the
 * pipeline keeps each transaction short (the ack latency budget); once ingest has been quiet for a
 * moment it takes long transactions, which cost far less per event (SQLite writes every B-tree page
 * a transaction dirtied once per commit, and random keys — recipients, message ids, dedup keys —
 * dirty a page per event in small batches). The cost per row is learned from the batches themselves.
 */
export interface BatchSizing {
  /** Fewest and most rows per transaction. */
  min: number;
  max: number;
  /** Target duration of one transaction while ingest is active (ms). */
  busyMs: number;
  /** Target duration once ingest has been quiet for `quietMs` (ms). */
  idleMs: number;
  quietMs: number;
}

export const DEFAULT_BATCH_SIZING: BatchSizing = { min: 1, max: 1000, busyMs: 3, idleMs: 30, quietMs: 250 };

/** Weight of the newest batch in the running per-row cost. */
const SMOOTHING = 0.3;

export class BatchSizer {
  /** A first guess (ms per row) that starts small: the first batches measure the real cost. */
  private msPerRow = 0.5;
  private lastIngestAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly sizing: BatchSizing = DEFAULT_BATCH_SIZING,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Ingest is committing rows: keep transactions short for a while. */
  noteIngest(): void {
    this.lastIngestAt = this.now();
  }

  /** Feeds back one finished transaction. */
  record(rows: number, ms: number): void {
    if (rows <= 0 || !(ms >= 0)) return;
    this.msPerRow += SMOOTHING * (ms / rows - this.msPerRow);
  }

  next(): number {
    const busy = this.now() - this.lastIngestAt < this.sizing.quietMs;
    const budget = busy ? this.sizing.busyMs : this.sizing.idleMs;
    const rows = Math.round(budget / Math.max(this.msPerRow, 1e-3));
    return Math.min(this.sizing.max, Math.max(this.sizing.min, rows));
  }
}
