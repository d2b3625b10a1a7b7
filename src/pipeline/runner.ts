import type { Logger } from 'pino';
import { withoutNul } from '../nul.js';
import { isDataRefusal } from '../store/data-refusal.js';
import { emptySummary } from '../store/effects.js';
import type { BatchSummary, EventEffects, InboxInsert, InboxRow, Store } from '../store/store.js';
import { recordBatchSpan } from '../tracing/spans.js';
import { activeTracer, spanClock } from '../tracing/tracing.js';
import { BatchSizer, type BatchSizing, DEFAULT_BATCH_SIZING } from './batch-sizer.js';
import { pipelineEffects } from './effects.js';
import { FailureIsolation } from './failure-isolation.js';
import { appendProcessing } from './inline-append.js';
import { processRow, processRows } from './process-row.js';

export interface PipelineOptions {
  store: Store;
  logger: Logger;
  /** A fixed number of rows per transaction; without it the size adapts (see BatchSizer). */
  batchSize?: number;
  sizing?: BatchSizing;
  /** How often an idle runner looks for work that another process appended. */
  pollMs?: number;
  /** How long a woken runner waits for more rows before its transaction (ms; 0: none). */
  gatherMs?: number;
  now?: () => Date;
  /** Fan-out and suppression rules; the defaults when omitted. */
  effects?: EventEffects;
  /** `append` processes a caught-up group in its own commit (MAILHOOK_INLINE_PROCESSING). */
  inline?: boolean;
}

export interface PipelineTotals extends BatchSummary {
  batches: number;
}

/**
 * The background loop that turns inbox rows into events. The ingest path wakes it after each group
 * commit; it also polls, so rows appended by another process or requeued by the CLI are picked up.
 */
export class PipelineRunner {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly batchSize: number | null;
  private readonly sizer: BatchSizer;
  private readonly pollMs: number;
  private readonly gatherMs: number;
  private readonly now: () => Date;
  private readonly effects: EventEffects;
  private readonly inline: boolean;
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private wakeRequested = false;
  private readonly isolation = new FailureIsolation();
  /** The rows the current transaction claimed, to know which ones a failure concerns. */
  private claimed: string[] = [];
  readonly totals: PipelineTotals = emptyTotals();
  /** Called after every batch that claimed rows. */
  onBatch: ((summary: BatchSummary) => void) | null = null;

  constructor(options: PipelineOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.batchSize = options.batchSize ?? null;
    // Only one transaction writes at a time on SQLite, so while ingest commits they must stay short;
    // elsewhere a pipeline transaction holds only the rows it claimed.
    this.sizer = new BatchSizer(
      options.sizing ??
        (options.store.capabilities.oneWriter
          ? DEFAULT_BATCH_SIZING
          : { ...DEFAULT_BATCH_SIZING, busyMs: DEFAULT_BATCH_SIZING.idleMs }),
    );
    this.pollMs = options.pollMs ?? 1000;
    this.gatherMs = options.gatherMs ?? 0;
    this.now = options.now ?? (() => new Date());
    this.effects = options.effects ?? pipelineEffects();
    this.inline = options.inline ?? false;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the batch in progress; rows not yet claimed stay pending for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = null;
  }

  wake(): void {
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /** Ingest commits share the write lock with our transactions: keep them short for a while. */
  noteIngest(): void {
    this.sizer.noteIngest();
  }

  /**
   * Commits an ingest group, processed in the same transaction (see appendProcessing) when inline
   * processing is on (MAILHOOK_INLINE_PROCESSING; by default on SQLite only) and this runner is
   * running and not isolating a failed batch; otherwise pending, for the loop.
   */
  async append(rows: InboxInsert[]): Promise<{ replayed: string[] }> {
    this.noteIngest();
    if (!this.inline || !this.running || this.isolation.active) {
      const result = await this.store.appendInbox(rows);
      this.wake();
      return result;
    }
    const tracer = activeTracer();
    const startTime = tracer ? spanClock() : 0;
    return appendProcessing(rows, {
      store: this.store,
      effects: this.effects,
      now: this.now,
      logger: this.logger,
      onProcessed: (summary) => {
        addBatch(this.totals, summary);
        this.onBatch?.(summary);
        if (tracer) {
          const traces = rows.map((row) => row.trace);
          recordBatchSpan(tracer, { startTime, traces, summary, inline: true });
        }
      },
      onPending: () => this.wake(),
    });
  }

  /** Processes one batch; exported for the CLI and tests. */
  async runOnce(limit = this.batchSize ?? this.sizer.next()): Promise<BatchSummary> {
    const started = performance.now();
    const tracer = activeTracer();
    const startTime = tracer ? spanClock() : 0;
    let traces = null as Array<string | undefined> | null;
    this.claimed = [];
    const plan = (rows: InboxRow[]) => {
      this.claimed = rows.map((row) => row.id);
      if (tracer) traces = rows.map((row) => row.trace);
      return processRows(rows);
    };
    let summary: BatchSummary;
    try {
      summary = await this.store.processInbox(limit, plan, this.effects, this.now());
    } catch (err) {
      if (tracer && traces) recordBatchSpan(tracer, { startTime, traces, error: err });
      throw err;
    }
    if (tracer && summary.rows > 0) recordBatchSpan(tracer, { startTime, traces: traces ?? [], summary });
    this.sizer.record(summary.rows, performance.now() - started, limit);
    addBatch(this.totals, summary);
    if (summary.rows > 0) this.onBatch?.(summary);
    if (summary.quarantined > 0)
      this.logger.warn({ quarantined: summary.quarantined }, 'inbox rows quarantined');
    return summary;
  }

  /** Processes batches until no pending row is left. */
  async runUntilIdle(): Promise<PipelineTotals> {
    const totals = emptyTotals();
    for (;;) {
      const summary = await this.runOnce();
      if (summary.rows === 0) return totals;
      addBatch(totals, summary);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.wakeRequested = false;
      let full = false;
      try {
        const limit = this.isolation.limit(this.batchSize ?? this.sizer.next());
        const summary = await this.runOnce(limit);
        this.isolation.succeeded(summary.rows);
        full = summary.rows >= limit;
        failures = 0;
      } catch (err) {
        failures++;
        this.logger.error({ err, rows: this.claimed.length }, 'pipeline batch failed; will retry');
        const refused = this.isolation.failed(this.claimed, isDataRefusal(err));
        if (refused !== null && (await this.quarantineRefused(refused, err))) failures = 0;
      }
      if (!this.running) break;
      if (full && failures === 0) {
        // Yield to the event loop between full batches so ingest requests keep flowing.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      // Short backoff: a store outage usually ends within seconds, and rows must not wait long after it.
      const delay = failures > 0 ? Math.min(5_000, 250 * 2 ** failures) : this.pollMs;
      await this.sleep(delay);
      if (this.wakeRequested && this.running && failures === 0 && this.gatherMs > 0) {
        // Woken by a fresh commit: let the rows arriving over the next moment share the transaction.
        // A transaction's fixed cost (commit, fsync, pages rewritten) dwarfs one row's, so under a
        // steady stream one-row batches would cost several times more per event.
        await new Promise<void>((resolve) => setTimeout(resolve, this.gatherMs));
      }
    }
  }

  /** Quarantines the row the store keeps refusing (see FailureIsolation); true when it did. */
  private async quarantineRefused(id: string, cause: unknown): Promise<boolean> {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const error = withoutNul(`the store refused this row's events: ${reason}`);
    try {
      // The oldest pending row is that row unless another node has taken it meanwhile.
      const summary = await this.store.processInbox(
        1,
        (rows) =>
          rows.map((row) =>
            row.id === id ? { inboxId: row.id, kind: 'quarantined', error } : processRow(row),
          ),
        this.effects,
        this.now(),
      );
      addBatch(this.totals, summary);
      if (summary.rows > 0) this.onBatch?.(summary);
      this.logger.warn({ inboxId: id, err: cause }, 'inbox row quarantined: the store refused its events');
      return summary.quarantined > 0;
    } catch (err) {
      this.logger.error({ err, inboxId: id }, 'could not quarantine the refused inbox row; will retry');
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}

export function emptyTotals(): PipelineTotals {
  return { batches: 0, ...emptySummary() };
}

export function addBatch(totals: PipelineTotals, summary: BatchSummary): void {
  if (summary.rows === 0) return;
  totals.batches++;
  totals.rows += summary.rows;
  totals.processed += summary.processed;
  totals.quarantined += summary.quarantined;
  totals.inserted += summary.inserted;
  totals.duplicates += summary.duplicates;
  totals.deliveries += summary.deliveries;
  for (const [key, n] of Object.entries(summary.insertedByType)) {
    totals.insertedByType[key] = (totals.insertedByType[key] ?? 0) + n;
  }
}
