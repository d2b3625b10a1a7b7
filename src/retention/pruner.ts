import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { cutoffFor, PRUNED_TABLES, type PrunedTable, type RetentionCutoffs } from '../store/retention.js';
import type { Store } from '../store/store.js';

/** What a batch may hold the writer for: ingest commits wait behind it on SQLite. */
const BATCH_TARGET_MS = 5;
const FIRST_LIMIT = 200;
const MIN_LIMIT = 20;
const MAX_LIMIT = 5000;
/** Between batches, so commits queued behind one get the lock before the next. */
const PAUSE_MS = 2;
const LONGEST_INTERVAL_MS = 60_000;

export interface PrunerOptions {
  store: Store;
  retention: Config['retention'];
  logger: Logger;
  onPruned?: (table: PrunedTable, rows: number) => void;
  now?: () => Date;
}

/**
 * Deletes expired rows in the background, in small batches sized so each holds the writer for about
 * BATCH_TARGET_MS. It runs once a minute, or four times per the shortest retention if that is shorter,
 * so a row is gone within about a quarter of its retention after expiring. Deliveries and attempts go
 * first, then events (an event with a pending delivery stays), then raw requests.
 */
export class RetentionPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  private readonly limits = new Map<PrunedTable, number>();
  readonly intervalMs: number;

  constructor(private readonly options: PrunerOptions) {
    const { eventsMs, inboxMs, attemptsMs } = options.retention;
    const kept = [eventsMs, inboxMs, attemptsMs].filter((ms) => ms > 0);
    this.intervalMs = Math.min(LONGEST_INTERVAL_MS, ...kept.map((ms) => Math.ceil(ms / 4)));
  }

  /** Whether anything expires at all (every retention 0: nothing to run). */
  get enabled(): boolean {
    const { eventsMs, inboxMs, attemptsMs } = this.options.retention;
    return eventsMs > 0 || inboxMs > 0 || attemptsMs > 0;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  cutoffs(now: Date = (this.options.now ?? (() => new Date()))()): RetentionCutoffs {
    const { eventsMs, inboxMs, attemptsMs } = this.options.retention;
    const before = (ms: number) => (ms > 0 ? new Date(now.getTime() - ms) : null);
    return { events: before(eventsMs), inbox: before(inboxMs), attempts: before(attemptsMs) };
  }

  /** One pass over every table until nothing expired is left (or the pruner stops); rows deleted per table. */
  async runOnce(): Promise<Record<PrunedTable, number>> {
    const cutoffs = this.cutoffs();
    const deleted = { events: 0, inbox: 0, deliveries: 0, attempts: 0 };
    for (const table of ['attempts', 'deliveries', 'events', 'inbox'] as const) {
      if (!cutoffFor(table, cutoffs)) continue;
      deleted[table] = await this.pruneTable(table, cutoffs);
    }
    if (!this.stopped) await this.options.store.reclaim(PRUNED_TABLES.filter((t) => deleted[t] > 0));
    return deleted;
  }

  private async pruneTable(table: PrunedTable, cutoffs: RetentionCutoffs): Promise<number> {
    let total = 0;
    while (!this.stopped) {
      const limit = this.limits.get(table) ?? FIRST_LIMIT;
      const started = performance.now();
      const rows = await this.options.store.pruneBatch(table, cutoffs, limit);
      const ms = performance.now() - started;
      this.limits.set(table, nextLimit(limit, rows, ms));
      if (rows > 0) {
        total += rows;
        this.options.onPruned?.(table, rows);
      }
      if (rows < limit) break;
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
    return total;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce()
        .then((deleted) => {
          const any = PRUNED_TABLES.some((t) => deleted[t] > 0);
          if (any) this.options.logger.debug({ deleted }, 'retention: expired rows deleted');
        })
        .catch((err) =>
          this.options.logger.warn({ err }, 'retention: pruning failed; retrying at the next run'),
        )
        .finally(() => {
          this.running = null;
          this.schedule(this.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }
}

/** The next batch size: scaled toward BATCH_TARGET_MS by the last batch's time, when it was full. */
export function nextLimit(limit: number, rows: number, ms: number): number {
  if (rows < limit) return limit;
  const scaled = Math.round((limit * BATCH_TARGET_MS) / Math.max(ms, 0.25));
  return Math.max(MIN_LIMIT, Math.min(MAX_LIMIT, Math.round((limit + scaled) / 2)));
}
