import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { DeliveryRuntimeData } from '../delivery/runtime.js';
import type { Logger } from '../logger.js';
import type { AttemptMetric } from '../monitoring/metrics.js';
import type { BatchSummary, InboxInsert } from '../store/store.js';
import { softBouncePolicyOf } from './effects.js';
import type { FromPipeline, PipelineThreadData, ToPipeline } from './messages.js';
import { addBatch, emptyTotals, type PipelineTotals } from './runner.js';

export interface PipelineThreadOptions {
  config: Pick<
    Config,
    'databaseUrl' | 'dataDir' | 'logLevel' | 'softBounceLimit' | 'softBounceWindowMs' | 'inlineProcessing'
  >;
  logger: Logger;
  /** Fixed rows per transaction; by default the size adapts to ingest activity (BatchSizer). */
  batchSize?: number;
  pollMs?: number;
  /** Start with processing paused (ingest commits still work) until `resume()`. */
  paused?: boolean;
  /** Run delivery on this thread too, with this configuration. */
  delivery?: DeliveryRuntimeData;
  /** Delivery attempts made on this thread, for metrics. */
  onAttempts?: (attempts: AttemptMetric[]) => void;
  /** Called with each batch's summary (metrics, benchmarks). */
  onBatch?: (summary: BatchSummary) => void;
}

/** EX_IOERR: the exit status after a commit could not be made durable. */
const EXIT_STORAGE_FAILED = 74;

/**
 * Runs the pipeline in a worker thread. Wakes are coalesced: at most one message is in flight.
 * A thread that dies is restarted after a pause; its unfinished batch was rolled back by the store.
 */
export class PipelineThread {
  private worker: Worker | null = null;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private nextAppendId = 0;
  /** Threads started so far (a crashed one is restarted). */
  private started = 0;
  private readonly appends = new Map<
    number,
    { resolve: (result: { replayed: string[] }) => void; reject: (err: Error) => void }
  >();
  readonly totals: PipelineTotals = emptyTotals();

  constructor(private readonly options: PipelineThreadOptions) {}

  start(): void {
    if (this.worker || this.stopping) return;
    const data: PipelineThreadData = {
      store: { databaseUrl: this.options.config.databaseUrl, dataDir: this.options.config.dataDir },
      logLevel: this.options.config.logLevel,
      softBounce: softBouncePolicyOf(this.options.config),
      batchSize: this.options.batchSize ?? null,
      pollMs: this.options.pollMs ?? 1000,
      paused: this.options.paused ?? false,
      inline: this.options.config.inlineProcessing,
      delivery: this.options.delivery ?? null,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    this.started++;
    worker.on('message', (message: FromPipeline) => {
      if (message.type === 'batch') {
        addBatch(this.totals, message.summary);
        this.options.onBatch?.(message.summary);
      } else if (message.type === 'attempts') {
        this.options.onAttempts?.(message.attempts);
      } else if (message.type === 'fatal') {
        this.fatal(message.error);
      } else if (message.type === 'appended') {
        const pending = this.appends.get(message.id);
        this.appends.delete(message.id);
        if (message.error === null) pending?.resolve({ replayed: message.replayed });
        else pending?.reject(new Error(message.error));
      }
    });
    worker.on('error', (err) => this.options.logger.error({ err }, 'pipeline thread failed'));
    worker.on('exit', (code) => {
      this.worker = null;
      // Unanswered appends were never acknowledged; the provider retries them (dedup absorbs any
      // that did commit).
      for (const pending of this.appends.values()) pending.reject(new Error('pipeline thread exited'));
      this.appends.clear();
      if (this.stopping) return;
      this.options.logger.error({ code }, 'pipeline thread exited; restarting in 1 s');
      this.restartTimer = setTimeout(() => this.start(), 1000);
    });
  }

  /** Commits ingest rows on the pipeline thread; resolves once they are durable. */
  appendInbox(rows: InboxInsert[]): Promise<{ replayed: string[] }> {
    const worker = this.worker;
    if (!worker || this.stopping) return Promise.reject(new Error('pipeline thread is not running'));
    const id = this.nextAppendId++;
    return new Promise<{ replayed: string[] }>((resolve, reject) => {
      this.appends.set(id, { resolve, reject });
      worker.postMessage({ type: 'append', id, rows } satisfies ToPipeline);
    });
  }

  /**
   * How much of its time the thread's event loop has spent working since it started (idle and active
   * milliseconds), or null while it is not running; `thread` counts the threads started, so a reading
   * from a restarted thread (whose count starts again from 0) can be told apart. Time blocked inside a
   * commit's own fsync counts as active: on SQLite this thread is the one writer.
   */
  utilization(): (EventLoopUtilization & { thread: number }) | null {
    const worker = this.worker;
    return worker ? { ...worker.performance.eventLoopUtilization(), thread: this.started } : null;
  }

  wake(): void {
    this.post({ type: 'wake' });
  }

  wakeDelivery(): void {
    this.post({ type: 'wake-delivery' });
  }

  resume(): void {
    this.post({ type: 'resume' });
  }

  /** Lets the batch in progress commit, then ends the thread. */
  stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    this.stopped ??= new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      this.post({ type: 'stop' });
    });
    return this.stopped;
  }

  /**
   * A sync of the WAL failed: the kernel may have dropped pages it could not write and says so only
   * once, so nothing committed since can be trusted to be on disk. Like PostgreSQL, stop at once and
   * let the restart recover from what the disk holds; no request was acknowledged on those pages.
   */
  private fatal(error: string): void {
    this.options.logger.fatal({ error }, 'a commit could not be made durable; mailhook stops');
    process.exit(EXIT_STORAGE_FAILED);
  }

  private post(message: ToPipeline): void {
    this.worker?.postMessage(message);
  }
}
