import type { CanonicalEvent } from '../events.js';
import { newId } from '../ids.js';
import type { EndpointRecord, NewDelivery } from './delivery-types.js';
import type { HandedDeliveries } from './hand-off.js';
import type { EventEffects, RecipientHistoryItem, SuppressionEntry } from './insight-types.js';
import type { BatchSummary } from './store.js';

/**
 * The dialect-free half of applying a new event's effects: both stores call these and keep only
 * their own SQL (suppression writes, the history query).
 */
export interface EffectsContext {
  effects: EventEffects | undefined;
  /** Routable endpoints, loaded once per transaction. */
  endpoints: EndpointRecord[];
  now: number;
  fanOut: NewDelivery[];
  /** Set when this node's delivery worker takes fresh deliveries straight from the transaction. */
  handed?: HandedDeliveries | null;
}

/** Queues one delivery per endpoint the route picks for the event. */
export function queueFanOut(event: CanonicalEvent, ctx: EffectsContext): void {
  if (!ctx.effects?.route || ctx.endpoints.length === 0) return;
  for (const endpoint of ctx.effects.route(event, ctx.endpoints)) {
    const delivery: NewDelivery = {
      id: newId('delivery'),
      eventId: event.id,
      endpointId: endpoint.id,
      origin: 'event',
      dedupe: '',
      nextAttemptAt: new Date(ctx.now),
    };
    ctx.handed?.offer(delivery, event, endpoint, ctx.now);
    ctx.fanOut.push(delivery);
  }
}

/** The suppression entry an event causes for its recipient. */
export function suppressionEntry(
  event: CanonicalEvent,
  recipient: string,
  entry: { scope: string; reason: string; detail: string | null },
  now: number,
): SuppressionEntry {
  return {
    email: recipient,
    scope: entry.scope,
    reason: entry.reason,
    detail: entry.detail,
    eventId: event.id,
    sourceId: event.data.source_id,
    createdAt: new Date(now),
  };
}

/** The entry for a recipient whose soft bounces crossed the threshold. */
export function softBouncesEntry(
  event: CanonicalEvent,
  recipient: string,
  history: RecipientHistoryItem[],
  now: number,
): SuppressionEntry {
  const soft = history.filter((h) => h.type === 'email.bounced' && h.bounceType === 'soft').length;
  return suppressionEntry(
    event,
    recipient,
    { scope: 'global', reason: 'soft_bounces', detail: `${soft} soft bounces without a delivery in between` },
    now,
  );
}

/** A suppression write an event asks for, in the order the transaction's events came. */
export type SuppressionOp =
  | { op: 'add'; entry: SuppressionEntry }
  | { op: 'remove'; email: string; scope: string; reason: string };

/** An entry's key: the suppressions table's primary key. */
export type SuppressionKey = Pick<SuppressionEntry, 'email' | 'scope' | 'reason'>;

/** What a transaction's suppression ops come to: one delete, then one insert-unless-present. */
export interface SuppressionWrites {
  removes: SuppressionKey[];
  adds: SuppressionEntry[];
}

/**
 * A key as the table compares it: a lone surrogate reaches either store as U+FFFD, so two addresses
 * that differ only there are one row.
 */
const stored = (k: SuppressionKey): SuppressionKey => ({
  email: k.email.toWellFormed(),
  scope: k.scope.toWellFormed(),
  reason: k.reason.toWellFormed(),
});
const keyText = (k: SuppressionKey) => `${k.email}\u0000${k.scope}\u0000${k.reason}`;

/**
 * The same result as applying `ops` one at a time (an add inserts its entry unless the key is
 * present, a remove deletes the key), as two statements instead of one per op: each key's last remove
 * becomes a delete, and the first add after it (or the first add, with no remove) an insert that
 * keeps a row already present. Both lists come in key order. Two nodes can still wait on each other
 * (one deletes a key the other inserts, and the other way round), as they could with a statement per
 * op; PostgreSQL then aborts one of the two transactions, as it did before.
 */
export function netSuppressionWrites(ops: readonly SuppressionOp[]): SuppressionWrites {
  const perKey = new Map<string, { key: SuppressionKey; remove: boolean; add: SuppressionEntry | null }>();
  for (const op of ops) {
    const key = stored(op.op === 'add' ? op.entry : op);
    const text = keyText(key);
    const net = perKey.get(text);
    if (op.op === 'remove') perKey.set(text, { key, remove: true, add: null });
    else if (!net) perKey.set(text, { key, remove: false, add: op.entry });
    else if (net.add === null) net.add = op.entry;
  }
  const nets = [...perKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, net]) => net);
  return {
    removes: nets.filter((n) => n.remove).map((n) => n.key),
    adds: nets.flatMap((n) => (n.add ? [n.add] : [])),
  };
}

/** A pipeline batch's summary before any row is counted. */
export function emptySummary(): BatchSummary {
  return {
    rows: 0,
    processed: 0,
    quarantined: 0,
    inserted: 0,
    duplicates: 0,
    deliveries: 0,
    insertedByType: {},
  };
}

/** Counts a new event under its provider and type (the metrics' `events_stored_total`). */
export function countInserted(summary: BatchSummary, event: CanonicalEvent): void {
  const key = `${event.data.provider}|${event.type}`;
  summary.insertedByType[key] = (summary.insertedByType[key] ?? 0) + 1;
}
