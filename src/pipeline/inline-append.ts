import type { Logger } from 'pino';
import { DurabilityError } from '../store/durability.js';
import type { BatchSummary, EventEffects, InboxInsert, Store } from '../store/store.js';
import { processRows } from './process-row.js';

export interface InlineAppendOptions {
  store: Store;
  effects: EventEffects;
  now: () => Date;
  logger: Logger;
  /** The group was processed in its own commit: count it, wake delivery. */
  onProcessed: (summary: BatchSummary) => void;
  /** Rows were left pending: wake the pipeline. */
  onPending: () => void;
}

/**
 * Commits an ingest group and processes it in the same transaction when the store finds the pipeline
 * caught up (Store.appendInbox with `inline`). If that transaction fails, the rows are committed
 * pending instead, so the request is still acknowledged and the pipeline's own retries and quarantine
 * deal with whatever failed; only a failure of that plain commit too, or a commit that could not be
 * made durable, is refused (503).
 */
export async function appendProcessing(
  rows: InboxInsert[],
  options: InlineAppendOptions,
): Promise<{ replayed: string[] }> {
  const { store, effects, now, logger } = options;
  try {
    const result = await store.appendInbox(rows, { plan: processRows, effects, now: now() });
    if (result.processed) options.onProcessed(result.processed);
    if (result.pending > 0) options.onPending();
    return result;
  } catch (err) {
    if (err instanceof DurabilityError) throw err;
    logger.warn({ err, rows: rows.length }, 'inline processing failed; the rows go to the pipeline');
  }
  const result = await store.appendInbox(rows);
  options.onPending();
  return result;
}
