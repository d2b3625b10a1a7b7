import type { CanonicalEvent } from '../events.js';
import { indexableKey } from '../field-limits.js';
import type { RecipientHistoryItem, SuppressionIntent } from '../store/store.js';

export type { RecipientHistoryItem, SuppressionIntent } from '../store/store.js';

/**
 * Suppression policy as pure functions: what a new event means for the address's suppression list.
 * The store applies the intents inside the pipeline's transaction, so an event and its suppression
 * are committed together, and only new events (never duplicates) have any effect.
 */
export type SuppressionReason = 'hard_bounce' | 'soft_bounces' | 'complaint' | 'unsubscribe' | 'manual';

export const SUPPRESSION_REASONS: readonly SuppressionReason[] = [
  'hard_bounce',
  'soft_bounces',
  'complaint',
  'unsubscribe',
  'manual',
];

/** `global`, or `group:<id>` for a provider's unsubscribe group (SendGrid ASM group, Mailjet list…). */
export type SuppressionScope = string;

export interface SoftBouncePolicy {
  /** Soft bounces that suppress an address… */
  threshold: number;
  /** …within this window… */
  windowMs: number;
  // …with no delivery in between.
}

export const GLOBAL_SCOPE = 'global';

export function scopeOf(group: string | null | undefined): SuppressionScope {
  // A provider's group name is unbounded; the scope is part of an index key (see field-limits.ts).
  return group ? `group:${indexableKey(group)}` : GLOBAL_SCOPE;
}

/** Addresses are compared case-insensitively after trimming. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function suppressionIntents(event: CanonicalEvent): SuppressionIntent[] {
  const { data } = event;
  if (!data.recipient) return [];
  switch (event.type) {
    case 'email.bounced':
      if (data.bounce?.type === 'hard') {
        return [{ op: 'add', scope: GLOBAL_SCOPE, reason: 'hard_bounce', detail: bounceDetail(event) }];
      }
      return data.bounce?.type === 'soft' ? [{ op: 'check_soft_bounces' }] : [];
    case 'email.dropped':
      // The provider refused to send because it already knows the address bounced or is invalid.
      return data.bounce?.type === 'hard'
        ? [
            {
              op: 'add',
              scope: GLOBAL_SCOPE,
              reason: 'hard_bounce',
              detail: `dropped: ${bounceDetail(event)}`,
            },
          ]
        : [];
    case 'email.complained':
      return [{ op: 'add', scope: GLOBAL_SCOPE, reason: 'complaint', detail: 'spam complaint' }];
    case 'email.unsubscribed':
      return [{ op: 'add', scope: scopeOf(data.unsubscribe?.group), reason: 'unsubscribe', detail: null }];
    case 'email.resubscribed':
      return [{ op: 'remove', scope: scopeOf(data.unsubscribe?.group), reason: 'unsubscribe' }];
    default:
      return [];
  }
}

function bounceDetail(event: CanonicalEvent): string {
  const bounce = event.data.bounce;
  return [bounce?.code, bounce?.reason].filter(Boolean).join(' ') || 'bounced';
}

/**
 * True when the address had `threshold` soft bounces within one window with no delivery after the
 * first of them. `history` holds the address's bounces and deliveries from one window before `at` to
 * one window after it, in any order: every soft bounce in it is tried as the end of a window, so the
 * answer does not depend on the order in which the provider posted the events.
 */
export function softBouncesSuppress(
  history: RecipientHistoryItem[],
  at: number,
  policy: SoftBouncePolicy,
): boolean {
  // Sorted times and binary searches: an address with a long history (a seed or monitoring inbox)
  // must cost n log n here, inside the pipeline's transaction, not n² (nor a spread of n arguments).
  const softs: number[] = [];
  const deliveries: number[] = [];
  for (const h of history) {
    if (Math.abs(h.occurredAt - at) > policy.windowMs) continue;
    if (h.type === 'email.bounced' && h.bounceType === 'soft') softs.push(h.occurredAt);
    else if (h.type === 'email.delivered') deliveries.push(h.occurredAt);
  }
  softs.sort((x, y) => x - y);
  deliveries.sort((x, y) => x - y);
  return softs.some((end) => {
    const from = end - policy.windowMs;
    // The last delivery in [from, end]: soft bounces up to and including its time do not count.
    const d = upperBound(deliveries, end) - 1;
    const lastDelivery = d >= 0 && (deliveries[d] as number) >= from ? (deliveries[d] as number) : null;
    const first = lastDelivery === null ? lowerBound(softs, from) : upperBound(softs, lastDelivery);
    return upperBound(softs, end) - first >= policy.threshold;
  });
}

/** Index of the first value >= x in ascending `values`. */
function lowerBound(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first value > x in ascending `values`. */
function upperBound(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
