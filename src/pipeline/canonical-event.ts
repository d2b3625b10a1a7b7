import type { CanonicalEvent, EventData, ParsedEvent } from '../events.js';
import { FIELD_LIMITS, indexableKey, longerThan } from '../field-limits.js';
import { newId } from '../ids.js';
import { withoutNul } from '../nul.js';
import type { NewEvent } from '../store/store.js';

export interface EventOrigin {
  provider: string;
  sourceId: string;
  receivedAt: Date;
  receivedVia: NonNullable<EventData['received_via']>;
}

/**
 * A provider's parsed event as the canonical event stored and delivered, whichever way it came (a
 * webhook post or the provider's event API): the same fields and dedup key, so both ways store one.
 */
export function canonicalNewEvent(parsed: ParsedEvent, origin: EventOrigin): NewEvent {
  const { raw, ...fields } = parsed.data;
  const event: CanonicalEvent = {
    id: newId('event'),
    type: parsed.type,
    timestamp: parsed.timestamp.toISOString(),
    data: {
      provider: origin.provider,
      source_id: origin.sourceId,
      ...fields,
      received_at: origin.receivedAt.toISOString(),
      received_via: origin.receivedVia,
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
