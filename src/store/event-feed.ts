import type { CanonicalEvent } from '../events.js';
import type { EventFeed, EventFilter, EventPosition, StoredEvent } from './store.js';

/**
 * What both stores share for reading events in stored order (`Store.eventsAfter`): how many rows one
 * call examines, and how the rows it examined become a page and the position to continue from.
 */

/**
 * Rows one filtered call examines at most. A rare filter (one recipient) would otherwise read every
 * event stored since the caller's position in one statement; bounded, each call costs about the same
 * and the caller continues from where the scan stopped.
 */
export const FEED_SCAN_ROWS = 1000;

/** One examined row: its body only when it matches the filter. */
export interface FeedRow {
  position: EventPosition;
  body: string | null;
}

export function hasFilter(filter: EventFilter): boolean {
  return (
    filter.type !== undefined ||
    filter.recipient !== undefined ||
    filter.messageId !== undefined ||
    filter.sourceId !== undefined
  );
}

/**
 * Rows to examine for a page of `limit` matches. Rows a feed skips (`excluding`) are passed over like
 * rows a filter leaves out, so a backlog of them is crossed in a few calls.
 */
export function scanLimit(limit: number, filter: EventFilter, skipping = false): number {
  return hasFilter(filter) || skipping ? Math.max(limit, FEED_SCAN_ROWS) : limit;
}

/**
 * The page made of `rows` (examined in stored order, at most `scanned` of them were asked for).
 * `horizon` is a position after every row the scan could have seen: when the scan ran out of rows
 * before the page filled, the caller continues from there, past events the filter left out.
 */
export function feedPage(rows: FeedRow[], limit: number, scanned: number, horizon: EventPosition): EventFeed {
  const items: StoredEvent[] = [];
  for (const row of rows) {
    if (row.body !== null)
      items.push({ position: row.position, event: JSON.parse(row.body) as CanonicalEvent });
    if (items.length === limit) return { items, next: row.position, more: true };
  }
  const last = rows.at(-1);
  if (last && rows.length >= scanned) return { items, next: last.position, more: true };
  return { items, next: horizon, more: false };
}
