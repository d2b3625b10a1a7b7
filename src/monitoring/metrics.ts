import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchSummary, Store } from '../store/store.js';

const PIPELINE_THREAD_BUSY = 'mailhook_pipeline_thread_busy_seconds_total';

/** One delivery attempt as the pipeline thread, which runs delivery, reports it to the metrics. */
export interface AttemptMetric {
  /** succeeded, retrying or failed (after the last attempt). */
  outcome: 'succeeded' | 'retrying' | 'failed';
  seconds: number;
}

/**
 * The Prometheus metrics of one mailhook process. Counters are fed by the ingest route and by the
 * pipeline thread's reports (batches and delivery attempts); backlog gauges are read from the store at scrape time.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly ingestRequests: Counter<'source_id' | 'provider' | 'outcome'>;
  readonly verificationFailures: Counter<'provider' | 'reason'>;
  readonly inboxRows: Counter<'status'>;
  readonly eventsStored: Counter<'provider' | 'type'>;
  readonly duplicates: Counter;
  readonly deliveries: Counter<'outcome'>;
  readonly attemptSeconds: Histogram<'outcome'>;
  readonly prunedRows: Counter<'table'>;

  constructor(store: Store, options: { processMetrics?: boolean; now?: () => Date } = {}) {
    const registers = [this.registry];
    const now = options.now ?? (() => new Date());
    if (options.processMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: 'mailhook_process_' });
    this.ingestRequests = new Counter({
      name: 'mailhook_ingest_requests_total',
      help: 'Ingest requests by source and outcome (accepted, unauthorized, not_found, too_large, unavailable, other)',
      labelNames: ['source_id', 'provider', 'outcome'],
      registers,
    });
    this.verificationFailures = new Counter({
      name: 'mailhook_verification_failures_total',
      help: 'Ingest requests refused by verification, by provider and reason',
      labelNames: ['provider', 'reason'],
      registers,
    });
    this.inboxRows = new Counter({
      name: 'mailhook_pipeline_rows_total',
      help: 'Inbox rows the pipeline finished, by status (processed, quarantined)',
      labelNames: ['status'],
      registers,
    });
    this.eventsStored = new Counter({
      name: 'mailhook_events_stored_total',
      help: 'New events stored, by provider and type',
      labelNames: ['provider', 'type'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'mailhook_events_duplicates_total',
      help: 'Events dropped as duplicates of a stored event (same source and dedup key)',
      registers,
    });
    this.deliveries = new Counter({
      name: 'mailhook_delivery_attempts_total',
      help: 'Delivery attempts by outcome (succeeded, retrying, failed after the last attempt)',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: 'mailhook_delivery_attempt_duration_seconds',
      help: 'Duration of delivery attempts',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers,
    });
    this.prunedRows = new Counter({
      name: 'mailhook_retention_pruned_rows_total',
      help: 'Rows deleted by the retention pruner (MAILHOOK_RETENTION_*), by table',
      labelNames: ['table'],
      registers,
    });
    new Gauge({
      name: 'mailhook_retention_oldest_row_timestamp_seconds',
      help: 'Unix time of the oldest row each pruned table still holds (events: their timestamp; absent when empty)',
      labelNames: ['table'],
      registers,
      async collect() {
        this.reset();
        for (const [table, at] of Object.entries(await store.oldestKept()))
          if (at) this.set({ table }, at.getTime() / 1000);
      },
    });
    // One store round trip per scrape serves every backlog gauge.
    let snapshot: Promise<Awaited<ReturnType<Store['operationalCounts']>>> | null = null;
    const counts = () => {
      snapshot ??= store.operationalCounts(now()).finally(() => setTimeout(() => (snapshot = null), 0));
      return snapshot;
    };
    new Gauge({
      name: 'mailhook_inbox_backlog',
      help: 'Inbox rows waiting for the pipeline',
      registers,
      async collect() {
        this.set((await counts()).pendingInbox);
      },
    });
    new Gauge({
      name: 'mailhook_inbox_oldest_pending_age_seconds',
      help: 'Age of the oldest inbox row the pipeline has not processed (0 when none)',
      registers,
      async collect() {
        const oldest = (await counts()).oldestPendingAt;
        this.set(oldest ? Math.max(0, (now().getTime() - oldest.getTime()) / 1000) : 0);
      },
    });
    new Gauge({
      name: 'mailhook_deliveries_due',
      help: 'Deliveries due now and not yet attempted',
      registers,
      async collect() {
        this.set((await counts()).dueDeliveries);
      },
    });
    new Gauge({
      name: 'mailhook_endpoints',
      help: 'Endpoints by state',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const [state, n] of Object.entries((await counts()).endpointsByState)) this.set({ state }, n);
      },
    });
  }

  /**
   * `mailhook_pipeline_thread_busy_seconds_total`: the time the pipeline thread (ingest commits on
   * SQLite, processing, delivery) spent working rather than waiting for work. Its rate is the share of
   * that thread's wall time in use, not CPU: a commit that syncs itself counts its fsync as busy, while
   * the sync that runs off the thread when deliveries are in flight counts as idle. Near 1 on SQLite,
   * that thread (the one writer) is the node's ingest ceiling (docs/scaling.md). A restarted thread
   * counts from 0 again: its time is added to what the counter already holds.
   */
  observePipelineThread(utilization: () => { active: number; thread: number } | null): void {
    if (this.registry.getSingleMetric(PIPELINE_THREAD_BUSY)) return;
    let thread = -1;
    let last = 0;
    new Counter({
      name: PIPELINE_THREAD_BUSY,
      help: 'Seconds the pipeline thread spent working (commits, processing, delivery); a commit that syncs itself counts its fsync',
      registers: [this.registry],
      collect() {
        const reading = utilization();
        if (!reading) return;
        const active = reading.active / 1000;
        if (reading.thread !== thread) {
          thread = reading.thread;
          last = 0;
        }
        // Two readings of an idle thread can go back by a few microseconds (Node reads its idle time
        // before the clock): never count that as a restart, nor backwards.
        this.inc(Math.max(0, active - last));
        last = Math.max(last, active);
      },
    });
  }

  recordBatch(summary: BatchSummary): void {
    if (summary.processed) this.inboxRows.inc({ status: 'processed' }, summary.processed);
    if (summary.quarantined) this.inboxRows.inc({ status: 'quarantined' }, summary.quarantined);
    if (summary.duplicates) this.duplicates.inc(summary.duplicates);
    for (const [key, n] of Object.entries(summary.insertedByType)) {
      const [provider = '', type = ''] = key.split('|');
      this.eventsStored.inc({ provider, type }, n);
    }
  }

  recordAttempts(attempts: AttemptMetric[]): void {
    for (const a of attempts) {
      this.deliveries.inc({ outcome: a.outcome });
      this.attemptSeconds.observe({ outcome: a.outcome }, a.seconds);
    }
  }
}
