import type { CanonicalEvent } from '../events.js';
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
  return group ? `group:${group}` : GLOBAL_SCOPE;
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
 * True when, counting back from `at`, the address had `threshold` soft bounces within the window and
 * no delivery after the first of them. `history` holds the address's bounces and deliveries in the
 * window, in any order, including the event being processed.
 */
export function softBouncesSuppress(
  history: RecipientHistoryItem[],
  at: number,
  policy: SoftBouncePolicy,
): boolean {
  const from = at - policy.windowMs;
  const inWindow = history.filter((h) => h.occurredAt >= from && h.occurredAt <= at);
  const lastDelivery = Math.max(
    Number.NEGATIVE_INFINITY,
    ...inWindow.filter((h) => h.type === 'email.delivered').map((h) => h.occurredAt),
  );
  const softSinceDelivery = inWindow.filter(
    (h) => h.type === 'email.bounced' && h.bounceType === 'soft' && h.occurredAt > lastDelivery,
  );
  return softSinceDelivery.length >= policy.threshold;
}
