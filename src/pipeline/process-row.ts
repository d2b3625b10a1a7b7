import { MailhookError } from '../errors.js';
import type { CanonicalEvent, ParsedEvent } from '../events.js';
import { FIELD_LIMITS, indexableKey, longerThan } from '../field-limits.js';
import { newId } from '../ids.js';
import { withoutNul } from '../nul.js';
import { findAdapter } from '../providers/registry.js';
import type { RawRequest } from '../providers/types.js';
import type { InboxRow, NewEvent, RowOutcome } from '../store/store.js';

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
  const { raw, ...fields } = parsed.data;
  const event: CanonicalEvent = {
    id: newId('event'),
    type: parsed.type,
    timestamp: parsed.timestamp.toISOString(),
    data: {
      provider: row.provider,
      source_id: row.sourceId,
      ...fields,
      received_at: row.receivedAt.toISOString(),
      raw,
    },
  };
  // A NUL or an over-long indexed value in the provider's data would make PostgreSQL refuse the
  // whole batch (see nul.ts and field-limits.ts); data.raw keeps what the provider sent.
  const stored = withoutNul(event);
  if (longerThan(stored.data.recipient, FIELD_LIMITS.recipient)) stored.data.recipient = null;
  if (longerThan(stored.data.message_id, FIELD_LIMITS.messageId)) stored.data.message_id = null;
  return { dedupKey: indexableKey(withoutNul(parsed.dedupKey)), event: stored };
}
