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

/**
 * Weight of the newest batch in the fit: about the last ten batches count, enough that a few noisy
 * timings do not swing it (0.3 let ±1 ms of noise push a 3 ms budget past 9 ms at p99).
 */
const SMOOTHING = 0.1;

/**
 * Batch sizes vary less than this (coefficient of variation) in the recent batches: the fixed and the
 * per-row cost cannot be told apart from them.
 */
const MIN_SPREAD = 0.1;

/** What a transaction costs: `fixedMs + perRowMs × rows`. */
export interface BatchCost {
  fixedMs: number;
  perRowMs: number;
}

/**
 * Transaction time is modelled as a fixed cost (round trips to PostgreSQL, the commit's fsync) plus a
 * cost per row, fitted by least squares over the recent batches with exponentially decaying weights.
 * A model of the cost per row alone (total / rows) traps a pipeline whose fixed cost exceeds the
 * budget: one-row batches measure the whole fixed cost as the row's, so the next batch is one row
 * again, and a PostgreSQL pipeline at 8 ms per transaction fell behind a steady 200 events/s, its
 * backlog growing for as long as the load lasted.
 */
export class BatchSizer {
  // Exponentially weighted sums of 1, rows, ms, rows², rows × ms over recorded batches.
  private w = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;
  private lastRows = 0;
  private lastMs = 0;
  private lastFull = false;
  private lastIngestAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly sizing: BatchSizing = DEFAULT_BATCH_SIZING,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Ingest is committing rows: keep transactions short for a while. */
  noteIngest(): void {
    this.lastIngestAt = this.now();
  }

  /** Feeds back one finished transaction, which was allowed `limit` rows. */
  record(rows: number, ms: number, limit = Number.POSITIVE_INFINITY): void {
    if (rows <= 0 || !(ms >= 0)) return;
    const keep = this.w === 0 ? 0 : 1 - SMOOTHING;
    this.w = this.w * keep + 1;
    this.sx = this.sx * keep + rows;
    this.sy = this.sy * keep + ms;
    this.sxx = this.sxx * keep + rows * rows;
    this.sxy = this.sxy * keep + rows * ms;
    this.lastRows = rows;
    this.lastMs = ms;
    this.lastFull = rows >= limit;
  }

  /** The fitted cost, or null while the recent batches were all about the same size. */
  cost(): BatchCost | null {
    if (this.w === 0) return null;
    const meanRows = this.sx / this.w;
    const variance = this.sxx / this.w - meanRows * meanRows;
    if (!(variance > (MIN_SPREAD * meanRows) ** 2)) return null;
    const perRowMs = (this.sxy / this.w - meanRows * (this.sy / this.w)) / variance;
    if (!(perRowMs > 0)) return null;
    return { fixedMs: Math.max(0, (this.sy - perRowMs * this.sx) / this.w), perRowMs };
  }

  next(): number {
    const busy = this.now() - this.lastIngestAt < this.sizing.quietMs;
    const budget = busy ? this.sizing.busyMs : this.sizing.idleMs;
    let rows: number;
    const cost = this.cost();
    if (cost) {
      // The budget, or twice the fixed cost when that is longer: at least half of a transaction is rows.
      rows = Math.max(budget - cost.fixedMs, cost.fixedMs) / Math.max(cost.perRowMs, 1e-3);
    } else {
      // No spread to separate the costs: every ms counts as the rows' (a first guess of 0.5 ms a row).
      const perRowMs = this.w === 0 ? 0.5 : this.sy / this.sx;
      rows = budget / Math.max(perRowMs, 1e-3);
      // Rows were left waiting by a transaction that kept near the budget: try twice as many, which
      // both catches up and gives the spread. (One far over it had expensive rows, not a fixed cost.)
      if (this.lastFull && this.lastMs <= 2 * budget) rows = Math.max(rows, 2 * this.lastRows);
    }
    // At most twice the last batch: each size is measured before a larger one is tried, so a fit
    // thrown off by timing noise cannot jump to a long transaction.
    if (this.lastRows > 0) rows = Math.min(rows, 2 * this.lastRows);
    return Math.min(this.sizing.max, Math.max(this.sizing.min, Math.round(rows)));
  }
}
