import type { Logger } from 'pino';
import { MailhookError } from '../errors.js';
import { type ReconcileFailure, reconcileFailedEvent } from '../monitoring/system-events.js';
import { canonicalNewEvent } from '../pipeline/canonical-event.js';
import type { ReconcileJob, ReconcileProgress } from '../store/reconcile-types.js';
import type { EventEffects, PublishedEvent, SourceRecord, Store } from '../store/store.js';
import { findReader } from './registry.js';
import { apiConfigOf } from './source-config.js';
import {
  type EventReader,
  type HttpGet,
  ReaderFormatError,
  ReaderHttpError,
  type ReaderPage,
} from './types.js';

/** Events stored per transaction: a page of thousands must not hold the writer for long. */
const STORE_CHUNK = 200;
/** Tries of one page when the API answers 429, 5xx or not at all, waiting longer each time. */
const PAGE_TRIES = 8;
const FIRST_BACKOFF_MS = 1000;
const LONGEST_BACKOFF_MS = 60_000;

export interface ReconcileRunnerOptions {
  store: Store;
  effects: EventEffects;
  get: HttpGet;
  logger: Logger;
  /** This node, as the lease owner. */
  owner: string;
  /** Raises mailhook's own events (system.source.reconcile_failed). */
  publishSystem: (events: PublishedEvent[]) => Promise<void>;
  /** Called after events were stored (deliveries may be due). */
  onStored?: () => void;
  /** The reader of a provider (default: the built-in ones). */
  readers?: (provider: string) => EventReader | undefined;
  leaseMs?: number;
  pollMs?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** A page the API refused for good, or a source that cannot be read: the job fails with this reason. */
class JobFailure extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/**
 * Runs reconciliation jobs: claims a running job under a lease (several nodes: one reader per job,
 * and one running job per source), reads the provider's API page by page, stores what it finds through
 * the same dedup and effects as webhook events (an event already received is counted as a duplicate,
 * one never received is stored and delivered), and saves its cursor with each page, so a job stopped
 * by a crash or a restart resumes at the page it was reading.
 */
export class ReconcileRunner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** Set by stop(): a job in progress saves its place and is left for the next start to resume. */
  private stopping = false;
  /** Ends a backoff wait early when the runner stops, so a shutdown never waits out a rate limit. */
  private wakeFromWait: (() => void) | null = null;
  private readonly leaseMs: number;
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ReconcileRunnerOptions) {
    this.leaseMs = options.leaseMs ?? 120_000;
    this.now = options.now ?? (() => new Date());
    this.sleep =
      options.sleep ??
      ((ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(done, ms);
          const runner = this;
          function done() {
            clearTimeout(timer);
            runner.wakeFromWait = null;
            resolve();
          }
          this.wakeFromWait = done;
        }));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    this.wakeFromWait?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** A job was just created: look now instead of at the next poll. */
  wake(): void {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  /** Claims and runs jobs until none is left; how many it ran. */
  async runUntilIdle(): Promise<number> {
    let ran = 0;
    while (await this.runOne()) ran++;
    return ran;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runUntilIdle()
        .then(() => undefined)
        .catch((err) => this.options.logger.warn({ err }, 'reconciliation: could not run a job'))
        .finally(() => {
          this.running = null;
          this.schedule(this.options.pollMs ?? 5000);
        });
    }, delayMs);
    this.timer.unref();
  }

  /** Claims one job and runs it to its end (or until the lease is lost); false when none was due. */
  async runOne(): Promise<boolean> {
    const { store, owner } = this.options;
    const job = await store.claimReconciliation(owner, this.now(), this.leaseMs);
    if (!job) return false;
    const log = this.options.logger.child({ reconciliation: job.id, sourceId: job.sourceId });
    try {
      const outcome = await this.run(job);
      if (outcome === 'lost') {
        if (!this.stopping) log.warn('reconciliation: the job was taken over by another node');
        return !this.stopping;
      }
      await store.finishReconciliation(job.id, owner, { status: 'done', error: null }, this.now());
      await this.recordOnSource(job, 'done', null);
      log.info('reconciliation done');
    } catch (err) {
      const failure =
        err instanceof JobFailure ? err : new JobFailure(`reconciliation failed: ${String(err)}`);
      log.warn({ err: failure.message }, 'reconciliation failed');
      if (
        await store.finishReconciliation(
          job.id,
          owner,
          { status: 'failed', error: failure.message },
          this.now(),
        )
      ) {
        await this.recordOnSource(job, 'failed', failure.message);
        await this.raiseFailure(job, failure);
      }
    }
    return true;
  }

  private async run(job: ReconcileJob): Promise<'done' | 'lost'> {
    const { store } = this.options;
    const source = await store.getSource(job.sourceId);
    if (!source) throw new JobFailure('the source was deleted');
    const reader = (this.options.readers ?? findReader)(source.provider);
    if (!reader) throw new JobFailure(`${source.provider} has no event API mailhook can read`);
    const config = apiConfigOf(reader, source.config);
    if (!config) throw new JobFailure('the source has no API key: set config.api_key');
    const now = this.now();
    const oldest = new Date(now.getTime() - reader.retentionMs);
    const window = { since: job.since < oldest ? oldest : job.since, until: job.until };
    if (window.until <= window.since) return 'done';

    const progress: ReconcileProgress = {
      cursor: job.cursor,
      pages: job.pages,
      found: job.found,
      new: job.new,
      duplicates: job.duplicates,
      skipped: job.skipped,
    };
    for (;;) {
      if (this.stopping) {
        // Free the lease at once, so the next start (here or on another node) resumes without waiting.
        await store.saveReconciliation(job.id, this.options.owner, progress, this.now(), 0);
        return 'lost';
      }
      const page = await this.readPage(job, reader, { config, window, cursor: progress.cursor }, progress);
      if (page === 'lost') return 'lost';
      const stored = await this.store(source, page);
      progress.cursor = page.next;
      progress.pages++;
      progress.found += page.events.length;
      progress.new += stored.created;
      progress.duplicates += stored.duplicates;
      progress.skipped += page.skipped;
      if (!(await store.saveReconciliation(job.id, this.options.owner, progress, this.now(), this.leaseMs)))
        return 'lost';
      if (page.next === null) return 'done';
    }
  }

  /** One page, tried again after 429, 5xx or a network error, waiting as the API asks or longer each time. */
  private async readPage(
    job: ReconcileJob,
    reader: EventReader,
    input: Omit<Parameters<EventReader['readPage']>[0], 'get'>,
    progress: ReconcileProgress,
  ): Promise<ReaderPage | 'lost'> {
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await reader.readPage({ ...input, get: this.options.get });
      } catch (err) {
        const retryable =
          !(err instanceof ReaderFormatError) &&
          (!(err instanceof ReaderHttpError) || err.status === 429 || err.status >= 500);
        if (err instanceof ReaderHttpError && (err.status === 401 || err.status === 403))
          throw new JobFailure(
            `${reader.provider} refused the API key (HTTP ${err.status}): check config.api_key${input.config.domain ? ' and config.domain' : ''}`,
            err.status,
          );
        if (!retryable || attempt >= PAGE_TRIES)
          throw new JobFailure(
            `${reader.provider} API: ${err instanceof Error ? err.message : String(err)}${retryable ? ` (after ${attempt} tries)` : ''}`,
            err instanceof ReaderHttpError ? err.status : null,
          );
        const asked = err instanceof ReaderHttpError ? err.retryAfterMs : null;
        const wait = Math.min(LONGEST_BACKOFF_MS, asked ?? backoff);
        if (asked === null) backoff = Math.min(LONGEST_BACKOFF_MS, backoff * 2);
        // Keep the lease while waiting, so no other node takes the job over meanwhile.
        if (
          !(await this.options.store.saveReconciliation(
            job.id,
            this.options.owner,
            progress,
            this.now(),
            this.leaseMs,
          ))
        )
          return 'lost';
        await this.sleep(wait);
        if (this.stopping) {
          await this.options.store.saveReconciliation(job.id, this.options.owner, progress, this.now(), 0);
          return 'lost';
        }
      }
    }
  }

  private async store(
    source: SourceRecord,
    page: ReaderPage,
  ): Promise<{ created: number; duplicates: number }> {
    const receivedAt = this.now();
    const events = page.events.map((parsed) =>
      canonicalNewEvent(parsed, {
        provider: source.provider,
        sourceId: source.id,
        receivedAt,
        receivedVia: 'api',
      }),
    );
    let created = 0;
    for (let i = 0; i < events.length; i += STORE_CHUNK) {
      const results = await this.options.store.publishEvents(
        events.slice(i, i + STORE_CHUNK),
        this.options.effects,
        receivedAt,
      );
      created += results.filter((r) => r.created).length;
    }
    if (created > 0) this.options.onStored?.();
    return { created, duplicates: events.length - created };
  }

  /** The last run's outcome, on the source (GET /v1/sources/:id shows it in `state.reconciliation`). */
  private async recordOnSource(job: ReconcileJob, status: 'done' | 'failed', error: string | null) {
    try {
      await this.options.store.updateSourceState(
        job.sourceId,
        { reconciliation: { job_id: job.id, status, error, at: this.now().toISOString() } },
        this.now(),
      );
    } catch (err) {
      if (!(err instanceof MailhookError)) throw err;
    }
  }

  private async raiseFailure(job: ReconcileJob, failure: JobFailure) {
    const source = await this.options.store.getSource(job.sourceId);
    if (!source) return;
    const details: ReconcileFailure = { jobId: job.id, error: failure.message, httpStatus: failure.status };
    await this.options.publishSystem([reconcileFailedEvent(source, details, this.now())]);
  }
}
