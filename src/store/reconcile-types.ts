/** A reconciliation job as the store keeps it (src/reconcile/ reads the provider's API for it). */
export type ReconcileTrigger = 'api' | 'startup' | 'silent' | 'schedule';
export type ReconcileStatus = 'running' | 'done' | 'failed';

export interface ReconcileProgress {
  /** The reader's next page (null: the window's first page). */
  cursor: string | null;
  pages: number;
  /** Events read from the API. */
  found: number;
  /** Of those, events mailhook had not stored (recovered). */
  new: number;
  /** Of those, events already stored (their webhook arrived). */
  duplicates: number;
  /** API items that are not email events mailhook knows. */
  skipped: number;
}

export interface ReconcileJob extends ReconcileProgress {
  id: string;
  sourceId: string;
  trigger: ReconcileTrigger;
  status: ReconcileStatus;
  since: Date;
  until: Date;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** The job created, or the one already running for that source (one at a time per source). */
export type CreateReconcileResult =
  | { created: true; job: ReconcileJob }
  | { created: false; running: ReconcileJob };
