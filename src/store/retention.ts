import { encodeTime, ID_PREFIXES, type IdKind } from '../ids.js';

/** The tables the retention pruner deletes from; everything else (sources, endpoints, keys, suppressions,
 * stats rollups) is kept for good. */
export const PRUNED_TABLES = ['events', 'inbox', 'deliveries', 'attempts'] as const;
export type PrunedTable = (typeof PRUNED_TABLES)[number];

/**
 * What each table keeps, as the oldest time still kept (`null`: kept forever).
 * - events: by their timestamp (`occurred_at`, indexed), except an event with a delivery still pending
 *   and, on SQLite, the newest stored event (its rowid is the live feed's position, see store.ts).
 * - inbox: processed requests by arrival; a quarantined one for the events' retention instead (it is
 *   what a fixed parser would turn into events); a pending one never.
 * - deliveries (finished ones) and attempts: by creation.
 */
export interface RetentionCutoffs {
  events: Date | null;
  inbox: Date | null;
  attempts: Date | null;
}

/**
 * Ids are prefixed ULIDs, which sort by creation time: every id made before `time` sorts below this
 * bound, so a time cutoff becomes a range on the primary key and needs no index of its own.
 */
export function idBound(kind: IdKind, time: Date): string {
  return `${ID_PREFIXES[kind]}_${encodeTime(time.getTime())}`;
}

/** The cutoff a table is pruned to, or null when nothing in it expires. */
export function cutoffFor(table: PrunedTable, cutoffs: RetentionCutoffs): Date | null {
  if (table === 'events') return cutoffs.events;
  if (table === 'inbox') return cutoffs.inbox;
  return cutoffs.attempts;
}
