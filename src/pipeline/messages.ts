import type { Config } from '../config.js';
import type { DeliveryRuntimeData } from '../delivery/runtime.js';
import type { AttemptMetric } from '../monitoring/metrics.js';
import type { BatchSummary, InboxInsert } from '../store/store.js';

/** What the main thread hands the pipeline thread at start. */
export interface PipelineThreadData {
  store: Pick<Config, 'databaseUrl' | 'dataDir'>;
  logLevel: string;
  softBounce: { threshold: number; windowMs: number };
  /** Fixed rows per transaction, or null to adapt them (BatchSizer). */
  batchSize: number | null;
  pollMs: number;
  /** Start with the runner paused (appends still work); `resume` starts it. */
  paused: boolean;
  /** Process ingest groups in their own commit when caught up (MAILHOOK_INLINE_PROCESSING). */
  inline: boolean;
  /** Also run delivery on this thread, taking fresh deliveries from its transactions (hand-off.ts). */
  delivery: DeliveryRuntimeData | null;
}

export type ToPipeline =
  | { type: 'wake' }
  | { type: 'stop' }
  | { type: 'resume' }
  | { type: 'wake-delivery' }
  /** Ingest rows to commit; answered with `appended` carrying the same id. */
  | { type: 'append'; id: number; rows: InboxInsert[] };

export type FromPipeline =
  | { type: 'batch'; summary: BatchSummary }
  | { type: 'appended'; id: number; error: string | null; replayed: string[] }
  | { type: 'attempts'; attempts: AttemptMetric[] }
  /** The store cannot make commits durable any more (DurabilityError): the process must stop. */
  | { type: 'fatal'; error: string };
