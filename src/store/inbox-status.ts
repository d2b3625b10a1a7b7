import { INBOX_STATUSES, type InboxCounts, type InboxStatus } from './store.js';

/**
 * The inbox_status index keeps only the rows not processed (migration 013): nearly every row is
 * processed, and a listing of processed rows finds a page as fast through the primary key. A planner
 * uses a partial index only for a condition it can see implies the index's own: SQLite only when the
 * index's condition is one of the query's terms as written, and neither sees through a bound
 * parameter. So a status filter is literal SQL from this fixed set, with the index's own term.
 */
export function inboxStatusIs(status: InboxStatus): string {
  if (!INBOX_STATUSES.includes(status)) throw new Error(`unknown inbox status: ${String(status)}`);
  return status === 'processed' ? "status = 'processed'" : `status <> 'processed' AND status = '${status}'`;
}

/**
 * Counts per status in one statement (one snapshot): the rows not processed through the partial
 * index, processed as the rest of the total. `count` is the dialect's count expression.
 */
export const countInboxSql = (count: string) => `
  SELECT status, ${count} AS n FROM inbox WHERE status <> 'processed' GROUP BY status
  UNION ALL SELECT 'all' AS status, ${count} AS n FROM inbox`;

export function inboxCountsFrom(rows: ReadonlyArray<{ status: string; n: number | string }>): InboxCounts {
  const counts: InboxCounts = { pending: 0, processed: 0, quarantined: 0 };
  let all = 0;
  for (const row of rows) {
    if (row.status === 'all') all = Number(row.n);
    else if (row.status === 'pending' || row.status === 'quarantined') counts[row.status] = Number(row.n);
  }
  counts.processed = all - counts.pending - counts.quarantined;
  return counts;
}
