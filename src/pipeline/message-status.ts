import type { CanonicalEvent } from '../events.js';

/**
 * A message's status is its highest-ranked event, not its latest arrival: providers post out of
 * order, and an open that arrives after a complaint must not hide the complaint, nor a late
 * `delivered` undo an `opened`. Soft bounces rank below delivery (the message may still arrive);
 * hard bounces, drops and failures are final.
 */
const RANKS: Record<string, number> = {
  'email.sent': 10,
  'email.deferred': 20,
  'email.bounced:soft': 25,
  'email.bounced:undetermined': 26,
  'email.delivered': 30,
  'email.opened': 40,
  'email.clicked': 50,
  'email.unsubscribed': 60,
  'email.complained': 70,
  'email.bounced:hard': 80,
  'email.dropped': 90,
  'email.failed': 95,
};

export type MessageStatus =
  | 'unknown'
  | 'sent'
  | 'deferred'
  | 'soft_bounced'
  | 'bounced'
  | 'delivered'
  | 'opened'
  | 'clicked'
  | 'unsubscribed'
  | 'complained'
  | 'dropped'
  | 'failed';

function rankKey(event: CanonicalEvent): string {
  return event.type === 'email.bounced'
    ? `email.bounced:${event.data.bounce?.type ?? 'undetermined'}`
    : event.type;
}

function statusOf(key: string): MessageStatus {
  if (key === 'email.bounced:hard') return 'bounced';
  if (key.startsWith('email.bounced:')) return 'soft_bounced';
  return key.replace('email.', '') as MessageStatus;
}

export function messageStatus(events: CanonicalEvent[]): MessageStatus {
  let best: string | null = null;
  for (const event of events) {
    const key = rankKey(event);
    const rank = RANKS[key];
    if (rank === undefined) continue;
    if (best === null || rank > (RANKS[best] ?? 0)) best = key;
  }
  return best === null ? 'unknown' : statusOf(best);
}

/** Time order, ties broken by id, whatever order the events arrived in. */
export function timeline(events: CanonicalEvent[]): CanonicalEvent[] {
  return [...events].sort(
    (a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || (a.id < b.id ? -1 : 1),
  );
}
