import { MailhookError } from '../errors.js';
import type { ParsedEvent } from '../events.js';
import { withoutNul } from '../nul.js';
import { findAdapter } from '../providers/registry.js';
import type { RawRequest } from '../providers/types.js';
import type { InboxRow, NewEvent, RowOutcome } from '../store/store.js';
import { canonicalNewEvent } from './canonical-event.js';

/**
 * Decides what one inbox row becomes: its canonical events, or a quarantine with the reason.
 * Pure apart from id generation; never throws, so one bad row cannot stall a batch.
 */
export function processRow(row: InboxRow): RowOutcome {
  const adapter = findAdapter(row.provider);
  if (!adapter) {
    return { inboxId: row.id, kind: 'quarantined', error: `no adapter for provider "${row.provider}"` };
  }
  try {
    const { events, skipped } = adapter.parse(requestOf(row));
    return {
      inboxId: row.id,
      kind: 'processed',
      events: events.map((parsed) => toNewEvent(parsed, row)),
      notes: withoutNul(skipped),
    };
  } catch (err) {
    const message = err instanceof MailhookError ? err.message : `parser failed: ${String(err)}`;
    return { inboxId: row.id, kind: 'quarantined', error: withoutNul(message) };
  }
}

export function processRows(rows: InboxRow[]): RowOutcome[] {
  return rows.map(processRow);
}

function requestOf(row: InboxRow): RawRequest {
  return {
    method: row.method,
    path: row.path,
    query: row.query,
    headers: row.headers,
    body: row.body,
    receivedAt: row.receivedAt,
  };
}

function toNewEvent(parsed: ParsedEvent, row: InboxRow): NewEvent {
  return canonicalNewEvent(parsed, {
    provider: row.provider,
    sourceId: row.sourceId,
    receivedAt: row.receivedAt,
    receivedVia: 'webhook',
  });
}
