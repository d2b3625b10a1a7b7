import type { CanonicalEvent } from '../events.js';
import type { RouteEvent } from './delivery-types.js';
import type { DeliveryHandOff } from './hand-off.js';

/** Records and rule shapes of the suppression list, timelines and stats. */

export interface SuppressionEntry {
  email: string;
  /** `global`, or `group:<id>` for a provider's unsubscribe group. */
  scope: string;
  reason: string;
  detail: string | null;
  /** The event that caused it; null for manual entries. */
  eventId: string | null;
  sourceId: string | null;
  createdAt: Date;
}

export type SuppressionIntent =
  | { op: 'add'; scope: string; reason: string; detail: string | null }
  | { op: 'remove'; scope: string; reason: string }
  | { op: 'check_soft_bounces' };

export interface RecipientHistoryItem {
  type: string;
  bounceType: string | null;
  occurredAt: number;
}

/** Pure rules the store applies to each NEW event, inside the transaction that stores it. */
export interface EventEffects {
  /** Fan-out: the endpoints that get a delivery of the event. */
  route?: RouteEvent;
  suppressions?: {
    intents: (event: CanonicalEvent) => SuppressionIntent[];
    /** Decides from the recipient's bounces and deliveries within `windowMs` either side of the event. */
    softBouncesSuppress: (history: RecipientHistoryItem[], at: number) => boolean;
    windowMs: number;
  };
  /** This node's delivery worker, when it takes fresh deliveries at their creation (hand-off.ts). */
  handOff?: DeliveryHandOff;
}

export interface SuppressionQuery {
  reason?: string;
  scope?: string;
  since?: Date;
  limit: number;
  /** [createdAt ms, email, scope, reason] of the last entry returned; newest first. */
  cursor?: [number, string, string, string];
}

export type StatsGroupBy = 'type' | 'provider' | 'source' | 'day' | 'recipient_domain';

export interface StatsQuery {
  since: Date;
  until: Date;
  groupBy: StatsGroupBy;
  sourceId?: string;
}

export interface StatsRow {
  /** The group's value (null for `type`, where the type itself is the grouping). */
  group: string | null;
  type: string;
  count: number;
  /**
   * Those events that were the first stored of their (message id, type): unique opens, clicks… A
   * message counts where its first event of the type falls, so the figure adds up across windows.
   */
  messages: number;
}

/** A published event to store: `dedupKey` makes the publish idempotent. */
export interface PublishedEvent {
  event: CanonicalEvent;
  dedupKey: string;
}

/** What /metrics and /readyz read from the store at scrape time. */
export interface OperationalCounts {
  pendingInbox: number;
  oldestPendingAt: Date | null;
  dueDeliveries: number;
  endpointsByState: Record<string, number>;
}

/** One hour of an endpoint's attempts or a source's requests. */
export interface HourBucket {
  hour: string;
  total: number;
  ok: number;
  /** Mean attempt duration (endpoints only). */
  avgMs: number | null;
}
