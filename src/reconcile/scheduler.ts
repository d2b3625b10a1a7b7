import type { Logger } from 'pino';
import type { ReconcileTrigger } from '../store/reconcile-types.js';
import type { SourceRecord, Store } from '../store/store.js';
import { newReconcileJob } from './job.js';
import { findReader } from './registry.js';
import { readerConfigOf } from './source-config.js';

/** Read back a little before the gap: a provider's last attempts before it gave up may be in it. */
const MARGIN_MS = 10 * 60_000;
/** A start this long after the installation was last seen running reads the gap back. */
const DOWNTIME_MS = 2 * 60_000;
const HEARTBEAT_MS = 60_000;
/**
 * Event APIs list some events late (Mailgun documents up to half an hour): the gap read at a start is
 * read again this much later, and what the first pass saw counts as duplicates.
 */
const SECOND_PASS_MS = 35 * 60_000;

export interface SchedulerOptions {
  store: Store;
  logger: Logger;
  /** MAILHOOK_RECONCILE_EVERY in ms; 0: no scheduled runs. */
  everyMs: number;
  wake: () => void;
  now?: () => Date;
}

/**
 * When reconciliation runs by itself, for every source with API credentials: after mailhook was down
 * (the gap since the installation was last seen running, from a heartbeat in the store), when a source
 * goes silent (since its last request), and every MAILHOOK_RECONCILE_EVERY. The runner clips each
 * window to what the provider's API keeps.
 */
export class ReconcileScheduler {
  private timers: NodeJS.Timeout[] = [];
  private readonly now: () => Date;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Records the heartbeat and, after downtime, queues the gap. */
  async start(): Promise<void> {
    const now = this.now();
    const lastSeen = await this.options.store.heartbeat(now);
    if (lastSeen && now.getTime() - lastSeen.getTime() > DOWNTIME_MS) {
      this.options.logger.info(
        { lastSeen },
        'reconciliation: reading back what providers sent while mailhook was down',
      );
      const since = new Date(lastSeen.getTime() - MARGIN_MS);
      await this.queueAll('startup', since, now);
      const again = setTimeout(() => void this.queueAll('startup', since, this.now()), SECOND_PASS_MS);
      again.unref();
      this.timers.push(again);
    }
    const beat = setInterval(() => {
      this.options.store
        .heartbeat(this.now())
        .catch((err) => this.options.logger.warn({ err }, 'heartbeat failed'));
    }, HEARTBEAT_MS);
    beat.unref();
    this.timers.push(beat);
    if (this.options.everyMs > 0) {
      const every = setInterval(() => {
        const at = this.now();
        void this.queueAll('schedule', new Date(at.getTime() - this.options.everyMs - MARGIN_MS), at);
      }, this.options.everyMs);
      every.unref();
      this.timers.push(every);
    }
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  /** A source raised system.source.silent: read back what its provider may have failed to post. */
  async onSilent(sourceId: string, lastRequestAt: Date): Promise<void> {
    const source = await this.options.store.getSource(sourceId);
    if (!source || !readerConfigOf(source.provider, source.config)) return;
    await this.queue(source, 'silent', new Date(lastRequestAt.getTime() - MARGIN_MS), this.now());
  }

  private async queueAll(trigger: ReconcileTrigger, since: Date, until: Date): Promise<void> {
    try {
      for (const source of await this.options.store.listSources()) {
        if (!source.enabled || !readerConfigOf(source.provider, source.config)) continue;
        await this.queue(source, trigger, since, until);
      }
    } catch (err) {
      this.options.logger.warn({ err, trigger }, 'reconciliation: could not queue the runs');
    }
  }

  /** A job, unless one is running for that source already (it covers most of the same window). */
  private async queue(
    source: SourceRecord,
    trigger: ReconcileTrigger,
    since: Date,
    until: Date,
  ): Promise<void> {
    const reader = findReader(source.provider);
    const job = reader && newReconcileJob(reader, { sourceId: source.id, trigger, since, until }, this.now());
    if (!job) return;
    const result = await this.options.store.createReconciliation(job);
    if (result.created) {
      this.options.logger.info({ sourceId: source.id, trigger, job: job.id }, 'reconciliation queued');
      this.options.wake();
    }
  }
}
