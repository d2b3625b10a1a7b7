import type { SourceCache } from '../ingest/source-cache.js';
import type { Store } from '../store/store.js';

/** What the /v1 routes need from the rest of the application. */
export interface ApiContext {
  store: Store;
  /** Base URL providers reach mailhook at (ingest URLs are built from it). */
  publicUrl: () => string;
  sources: SourceCache;
  now: () => Date;
  /** Tells the pipeline there is work (after a reprocess request). */
  wakePipeline: () => void;
}
