import { newId } from '../ids.js';
import type { ReconcileJob, ReconcileTrigger } from '../store/reconcile-types.js';
import type { EventReader } from './types.js';

/**
 * A new run over [since, until), starting no earlier than the provider's API keeps events (so the
 * job says what is read); null when nothing of the window is still kept.
 */
export function newReconcileJob(
  reader: EventReader,
  run: { sourceId: string; trigger: ReconcileTrigger; since: Date; until: Date },
  now: Date,
): ReconcileJob | null {
  const since = new Date(Math.max(run.since.getTime(), now.getTime() - reader.retentionMs));
  const until = new Date(Math.min(run.until.getTime(), now.getTime()));
  if (until <= since) return null;
  return {
    id: newId('reconciliation'),
    sourceId: run.sourceId,
    trigger: run.trigger,
    status: 'running',
    since,
    until,
    cursor: null,
    pages: 0,
    found: 0,
    new: 0,
    duplicates: 0,
    skipped: 0,
    error: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
}
